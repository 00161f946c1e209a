/**
 * A domain declares its own event topic where it lives, by augmenting core/events.ts's Topics (README, "Adding a
 * domain"): no edit to core. Checked here at both levels: the augmentation type-checks (npx tsc covers test/), and
 * the bus carries the new topic to its organization's subscribers only.
 */
import { describe, expect, it } from 'vitest';
import { EventBus } from '../src/core/events.js';

interface WidgetChange {
  id: string;
  organizationId: string;
  color: string;
}

declare module '../src/core/events.js' {
  interface Topics {
    widget: [organizationId: string, change: WidgetChange];
  }
}

describe('event topics declared outside core', () => {
  it('publishes a topic a module added to its organization’s subscribers only', async () => {
    const events = new EventBus();
    const mine = events.subscribe('widget', 'org-a');
    const next = mine.next();
    await events.ready('widget', 'org-a');
    events.publish('widget', 'org-b', { id: 'w2', organizationId: 'org-b', color: 'blue' });
    events.publish('widget', 'org-a', { id: 'w1', organizationId: 'org-a', color: 'red' });
    const { value } = await next;
    expect(value).toEqual({ id: 'w1', organizationId: 'org-a', color: 'red' });
    await mine.return?.();
  });
});
