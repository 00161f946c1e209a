import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_TOOL_NAMES, FILE_TOOL_NAMES } from '../src/domain/base-tools.js';
import { createTestApp, type GraphQLResult, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';

const TOOL_FIELDS =
  'id name description toolType isBaseTool sourceType sourceCode jsonSchema argsJsonSchema returnCharLimit tags metadata agentCount createdById lastUpdatedById createdAt updatedAt';
const MISSING_ID = 'tool-00000000-0000-4000-8000-000000000000';

/** A documented Python tool with one string parameter. */
const pythonTool = (name: string, summary = `Run ${name}.`) => `
def ${name}(text: str) -> str:
    """${summary}

    Args:
        text: The text to work on.
    """
    return text
`;

const param = (description: string, schema: Record<string, unknown>) => ({ ...schema, description });

/**
 * Real-world tool functions, in the shapes people write them for Letta: what the derived schema must be. Each source
 * is created through GraphQL, so derivation, storage and the JSON round trip are all covered.
 */
const DERIVED: { title: string; source: string; schema: Record<string, unknown> }[] = [
  {
    title: 'weather lookup with a default unit',
    source: `
import requests


def get_weather(city: str, units: str = "metric") -> str:
    """Get the current weather for a city.

    Args:
        city (str): Name of the city, e.g. "Paris" or "San Francisco, CA".
        units (str): "metric" for Celsius or "imperial" for Fahrenheit.

    Returns:
        str: A one-line weather report.
    """
    response = requests.get(f"https://wttr.in/{city}", params={"format": "3", "m" if units == "metric" else "u": ""})
    return response.text
`,
    schema: {
      name: 'get_weather',
      description: 'Get the current weather for a city.',
      parameters: {
        type: 'object',
        properties: {
          city: param('Name of the city, e.g. "Paris" or "San Francisco, CA".', { type: 'string' }),
          units: param('"metric" for Celsius or "imperial" for Fahrenheit.', { type: 'string', default: 'metric' }),
        },
        required: ['city'],
      },
    },
  },
  {
    title: 'web search with Optional parameters and defaults',
    source: `
from typing import Optional


def web_search(query: str, num_results: int = 5, site: Optional[str] = None, safe_search: bool = True) -> str:
    """Search the web and return the top results as Markdown.

    Args:
        query: What to search for.
        num_results: How many results to return, from 1 to 10.
        site: Only results from this domain, e.g. "docs.python.org".
        safe_search: Filter out explicit results.
    """
    raise NotImplementedError
`,
    schema: {
      name: 'web_search',
      description: 'Search the web and return the top results as Markdown.',
      parameters: {
        type: 'object',
        properties: {
          query: param('What to search for.', { type: 'string' }),
          num_results: param('How many results to return, from 1 to 10.', { type: 'integer', default: 5 }),
          site: param('Only results from this domain, e.g. "docs.python.org".', { type: 'string', default: null }),
          safe_search: param('Filter out explicit results.', { type: 'boolean', default: true }),
        },
        required: ['query'],
      },
    },
  },
  {
    title: 'list[str] and typing.List[str] parameters',
    source: `
from typing import List


def send_email(to: list[str], subject: str, body: str, cc: List[str] = []) -> str:
    """Send an email through the company SMTP relay.

    Args:
        to: Recipient addresses.
        subject: Subject line.
        body: Plain-text body.
        cc: Addresses to copy.
    """
    return "sent"
`,
    schema: {
      name: 'send_email',
      description: 'Send an email through the company SMTP relay.',
      parameters: {
        type: 'object',
        properties: {
          to: param('Recipient addresses.', { type: 'array', items: { type: 'string' } }),
          subject: param('Subject line.', { type: 'string' }),
          body: param('Plain-text body.', { type: 'string' }),
          cc: param('Addresses to copy.', { type: 'array', items: { type: 'string' }, default: [] }),
        },
        required: ['to', 'subject', 'body'],
      },
    },
  },
  {
    title: 'Literal enums',
    source: `
from typing import Literal


def convert_temperature(value: float, from_unit: Literal["C", "F", "K"], to_unit: Literal["C", "F", "K"] = "C", precision: Literal[0, 1, 2] = 1) -> float:
    """Convert a temperature between Celsius, Fahrenheit and Kelvin.

    Args:
        value: The temperature to convert.
        from_unit: The unit of value.
        to_unit: The unit to convert to.
        precision: Decimal places in the result.
    """
    return value
`,
    schema: {
      name: 'convert_temperature',
      description: 'Convert a temperature between Celsius, Fahrenheit and Kelvin.',
      parameters: {
        type: 'object',
        properties: {
          value: param('The temperature to convert.', { type: 'number' }),
          from_unit: param('The unit of value.', { type: 'string', enum: ['C', 'F', 'K'] }),
          to_unit: param('The unit to convert to.', { type: 'string', enum: ['C', 'F', 'K'], default: 'C' }),
          precision: param('Decimal places in the result.', { type: 'integer', enum: [0, 1, 2], default: 1 }),
        },
        required: ['value', 'from_unit'],
      },
    },
  },
  {
    title: 'nested lists: list[dict] and list[list[int]]',
    source: `
def create_invoice(customer_id: str, line_items: list[dict], seat_map: list[list[int]], currency: str = "USD") -> dict:
    """Create an invoice in the billing system.

    Args:
        customer_id: The customer's id in the billing system.
        line_items: Items to bill, each with "description", "quantity" and "unit_price".
        seat_map: Seats per row and column, for event tickets.
        currency: ISO 4217 currency code.
    """
    return {}
`,
    schema: {
      name: 'create_invoice',
      description: 'Create an invoice in the billing system.',
      parameters: {
        type: 'object',
        properties: {
          customer_id: param("The customer's id in the billing system.", { type: 'string' }),
          line_items: param('Items to bill, each with "description", "quantity" and "unit_price".', { type: 'array', items: { type: 'object' } }),
          seat_map: param('Seats per row and column, for event tickets.', { type: 'array', items: { type: 'array', items: { type: 'integer' } } }),
          currency: param('ISO 4217 currency code.', { type: 'string', default: 'USD' }),
        },
        required: ['customer_id', 'line_items', 'seat_map'],
      },
    },
  },
  {
    title: 'a tool without arguments',
    source: `
from datetime import datetime, timezone


def get_current_time() -> str:
    """Return the current UTC time in ISO 8601 format."""
    return datetime.now(timezone.utc).isoformat()
`,
    schema: {
      name: 'get_current_time',
      description: 'Return the current UTC time in ISO 8601 format.',
      parameters: { type: 'object', properties: {}, required: [] },
    },
  },
  {
    title: 'async def',
    source: `
import httpx


async def fetch_url(url: str, timeout: float = 10.5) -> str:
    """Fetch a web page and return its text.

    Args:
        url: The address to fetch.
        timeout: Seconds to wait before giving up.
    """
    async with httpx.AsyncClient() as client:
        response = await client.get(url, timeout=timeout)
        return response.text
`,
    schema: {
      name: 'fetch_url',
      description: 'Fetch a web page and return its text.',
      parameters: {
        type: 'object',
        properties: {
          url: param('The address to fetch.', { type: 'string' }),
          timeout: param('Seconds to wait before giving up.', { type: 'number', default: 10.5 }),
        },
        required: ['url'],
      },
    },
  },
  {
    title: 'a decorated def after helper functions (the last top-level def is the tool)',
    source: `
import functools
from typing import Optional


def _normalize(symbol: str) -> str:
    return symbol.strip().upper()


def retry(times: int):
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            return fn(*args, **kwargs)
        return inner
    return wrap


@retry(times=3)
def get_stock_price(symbol: str, exchange: Optional[str] = None, *, currency: str = "USD", **kwargs) -> float:
    """Look up the latest trade price of a stock.

    Args:
        symbol: Ticker symbol, e.g. "AAPL".
        exchange: Exchange code such as "NASDAQ"; any exchange when omitted.
        currency: Currency of the returned price.
    """
    return 0.0
`,
    schema: {
      name: 'get_stock_price',
      description: 'Look up the latest trade price of a stock.',
      parameters: {
        type: 'object',
        properties: {
          symbol: param('Ticker symbol, e.g. "AAPL".', { type: 'string' }),
          exchange: param('Exchange code such as "NASDAQ"; any exchange when omitted.', { type: 'string', default: null }),
          currency: param('Currency of the returned price.', { type: 'string', default: 'USD' }),
        },
        required: ['symbol'],
      },
    },
  },
  {
    title: 'a multi-line Google docstring with a long description and Returns/Raises sections',
    source: `
from typing import Optional


def search_knowledge_base(query: str, top_k: int = 3, filters: Optional[dict] = None) -> list:
    """
    Search the company knowledge base.

    Uses hybrid search over the indexed documents and returns
    the most relevant passages first.

    Args:
        query (str): The question or keywords to look up. Natural
            language works best, e.g. "refund policy for annual plans".
        top_k (int): Number of passages to return.
        filters (dict, optional): Metadata filters such as
            {"department": "sales"}.

    Returns:
        list: Matching passages with their scores.

    Raises:
        ValueError: If top_k is not positive.
    """
    return []
`,
    schema: {
      name: 'search_knowledge_base',
      description: 'Search the company knowledge base.\n\nUses hybrid search over the indexed documents and returns\nthe most relevant passages first.',
      parameters: {
        type: 'object',
        properties: {
          query: param('The question or keywords to look up. Natural\nlanguage works best, e.g. "refund policy for annual plans".', { type: 'string' }),
          top_k: param('Number of passages to return.', { type: 'integer', default: 3 }),
          filters: param('Metadata filters such as\n{"department": "sales"}.', { type: 'object', default: null }),
        },
        required: ['query'],
      },
    },
  },
  {
    title: 'a memory tool taking agent_state, with typing.List and PEP 604 unions',
    source: `
import typing


def schedule_meeting(agent_state: "AgentState", title: str, attendees: typing.List[str], duration_minutes: int = 30, location: str | None = None) -> str:
    """Schedule a meeting and remember it in core memory.

    Args:
        title: Meeting title.
        attendees: Email addresses of the people to invite.
        duration_minutes: Length of the meeting.
        location: Room or video link.
    """
    agent_state.memory.update_block_value("meetings", title)
    return title
`,
    schema: {
      name: 'schedule_meeting',
      description: 'Schedule a meeting and remember it in core memory.',
      parameters: {
        type: 'object',
        properties: {
          title: param('Meeting title.', { type: 'string' }),
          attendees: param('Email addresses of the people to invite.', { type: 'array', items: { type: 'string' } }),
          duration_minutes: param('Length of the meeting.', { type: 'integer', default: 30 }),
          location: param('Room or video link.', { type: 'string', default: null }),
        },
        required: ['title', 'attendees'],
      },
    },
  },
];

/** Sources Letta refuses to derive a schema from, with the reason the error must give. */
const UNDERIVABLE: { title: string; source: string; message: RegExp }[] = [
  {
    title: 'a syntax error',
    source: 'def get_weather(city: str) -> str\n    """Get the weather."""\n    return city\n',
    message: /^Failed to derive json schema: syntax error: .* at line 1/,
  },
  {
    title: 'no function at all',
    source: 'API_URL = "https://example.com"\nprint(API_URL)\n',
    message: /^Failed to derive json schema: no top-level function definition found/,
  },
  {
    title: 'only a class with methods',
    source: 'class Weather:\n    def get(self, city: str) -> str:\n        """Get the weather.\n\n        Args:\n            city: City.\n        """\n        return city\n',
    message: /no top-level function definition found/,
  },
  {
    title: 'a missing docstring',
    source: 'def add(a: int, b: int) -> int:\n    return a + b\n',
    message: /^Failed to derive json schema: Function add missing docstring$/,
  },
  {
    title: 'an unannotated parameter',
    source: 'def add(a, b: int) -> int:\n    """Add.\n\n    Args:\n        a: First.\n        b: Second.\n    """\n    return a + b\n',
    message: /Parameter 'a' in function 'add' lacks a type annotation/,
  },
  {
    title: 'an undocumented parameter',
    source: 'def add(a: int, b: int) -> int:\n    """Add two numbers.\n\n    Args:\n        a: First.\n    """\n    return a + b\n',
    message: /Parameter 'b' in function 'add' lacks a description/,
  },
  {
    title: 'a union that is not Optional',
    source: 'def pick(x: int | str) -> str:\n    """Pick.\n\n    Args:\n        x: A value.\n    """\n    return str(x)\n',
    message: /unsupported type annotation 'int \| str'/,
  },
];

describe.each(databaseKinds())('tools on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind);
  });
  afterAll(() => t.close());

  const create = (key: string, input: Record<string, unknown>) =>
    t.gql(key, `mutation($input: CreateToolInput!) { createTool(input: $input) { tool { ${TOOL_FIELDS} } } }`, { input });
  const createOk = async (key: string, input: Record<string, unknown>) => {
    const result = await create(key, input);
    expect(result.errors).toBeUndefined();
    return result.data.createTool.tool;
  };
  const update = (key: string, id: string, input: Record<string, unknown>) =>
    t.gql(key, `mutation($id: ID!, $input: UpdateToolInput!) { updateTool(id: $id, input: $input) { tool { ${TOOL_FIELDS} } } }`, { id, input });
  const updateOk = async (key: string, id: string, input: Record<string, unknown>) => {
    const result = await update(key, id, input);
    expect(result.errors).toBeUndefined();
    return result.data.updateTool.tool;
  };
  const upsert = async (key: string, input: Record<string, unknown>) =>
    (await t.gqlOk(key, `mutation($input: CreateToolInput!) { upsertTool(input: $input) { created tool { ${TOOL_FIELDS} } } }`, { input })).upsertTool;
  const firstError = (result: GraphQLResult) => {
    expect(result.errors, 'expected an error').toBeDefined();
    return { code: result.errors![0].extensions?.code, field: result.errors![0].extensions?.field, message: result.errors![0].message };
  };
  const customCount = async (key: string) => (await t.gqlOk(key, '{ toolsCount }')).toolsCount;

  it('creates a custom tool from Python source, deriving its schema, and reads it back', async () => {
    const org = await t.seed();
    const tool = await createOk(org.apiKey, { sourceCode: DERIVED[0].source });
    expect(tool).toMatchObject({
      name: 'get_weather',
      description: 'Get the current weather for a city.',
      toolType: 'custom',
      isBaseTool: false,
      sourceType: 'python',
      sourceCode: DERIVED[0].source,
      jsonSchema: DERIVED[0].schema,
      argsJsonSchema: null,
      returnCharLimit: 50_000,
      tags: [],
      metadata: null,
      agentCount: 0,
      createdById: org.userId,
      lastUpdatedById: org.userId,
    });
    expect(tool.id).toMatch(/^tool-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(tool.createdAt).toMatch(/Z$/);
    const read = await t.gqlOk(org.apiKey, `query($id: ID!) { tool(id: $id) { ${TOOL_FIELDS} } node(id: $id) { ... on Tool { name } } }`, { id: tool.id });
    expect(read).toEqual({ tool, node: { name: 'get_weather' } });
  });

  it.each(DERIVED)('derives the json schema of $title', async ({ source, schema }) => {
    const { apiKey } = await t.seed();
    const tool = await createOk(apiKey, { sourceCode: source });
    expect(tool.jsonSchema).toEqual(schema);
    expect(tool.name).toBe(schema.name);
    expect(tool.description).toBe(schema.description);
  });

  it.each(UNDERIVABLE)('refuses source code with $title: BAD_USER_INPUT on sourceCode, nothing created', async ({ source, message }) => {
    const { apiKey } = await t.seed();
    const error = firstError(await create(apiKey, { sourceCode: source }));
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'sourceCode' });
    expect(error.message).toMatch(message);
    expect(await customCount(apiKey)).toBe(0);
  });

  it('takes description, tags, returnCharLimit and metadata, and validates them', async () => {
    const { apiKey } = await t.seed();
    const tool = await createOk(apiKey, {
      sourceCode: pythonTool('shout'),
      description: 'Shouts.',
      tags: ['text', 'fun', 'text'],
      returnCharLimit: 1_000_000,
      metadata: { owner: 'ops', version: 2 },
    });
    expect(tool).toMatchObject({ description: 'Shouts.', tags: ['text', 'fun'], returnCharLimit: 1_000_000, metadata: { owner: 'ops', version: 2 } });
    expect(tool.jsonSchema.description).toBe('Run shout.');
    const bad: [Record<string, unknown>, string][] = [
      [{ returnCharLimit: 0 }, 'returnCharLimit'],
      [{ returnCharLimit: 1_000_001 }, 'returnCharLimit'],
      [{ tags: ['ok', ' '] }, 'tags'],
      [{ sourceType: 'ruby' }, 'sourceType'],
    ];
    for (const [input, field] of bad) {
      expect(firstError(await create(apiKey, { sourceCode: pythonTool('other'), ...input })), JSON.stringify(input)).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    const notObject = await t.gql(apiKey, 'mutation($m: JSONObject) { createTool(input: { sourceCode: "x", metadata: $m }) { tool { id } } }', { m: [1] });
    expect(firstError(notObject).code).toBe('BAD_USER_INPUT');
    expect(await customCount(apiKey)).toBe(1);
  });

  it('uses a given jsonSchema as-is: its name names the tool and must be a valid identifier defined by the source', async () => {
    const { apiKey } = await t.seed();
    const jsonSchema = { name: 'lookup', description: 'Look things up.', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } };
    const source = 'def helper():\n    pass\n\n\ndef lookup(q):\n    return q\n';
    const tool = await createOk(apiKey, { sourceCode: source, jsonSchema });
    expect(tool).toMatchObject({ name: 'lookup', description: 'Look things up.', jsonSchema });

    const bad: [Record<string, unknown>, string, RegExp][] = [
      [{ ...jsonSchema, name: 'not a name' }, 'jsonSchema.name', /must be an identifier/],
      [{ ...jsonSchema, name: 'x'.repeat(49) }, 'jsonSchema.name', /at most 48/],
      [{ description: 'no name' }, 'jsonSchema.name', /must be an identifier/],
      [{ ...jsonSchema, name: 'missing_fn' }, 'sourceCode', /defines no top-level function named "missing_fn"/],
      [{ ...jsonSchema, name: 'other', description: 7 }, 'jsonSchema.description', /must be a string/],
      [{ ...jsonSchema, name: 'other', parameters: [] }, 'jsonSchema.parameters', /must be a JSON object/],
    ];
    for (const [schema, field, message] of bad) {
      const error = firstError(await create(apiKey, { sourceCode: `${source}\ndef other(): pass\n`, jsonSchema: schema }));
      expect(error, JSON.stringify(schema)).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(error.message).toMatch(message);
    }

    // TypeScript source is not read: a schema is required, and the function is not looked for.
    const ts = 'export function greet(name: string): string { return `hi ${name}`; }';
    expect(firstError(await create(apiKey, { sourceCode: ts, sourceType: 'typescript' }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'jsonSchema' });
    const greet = await createOk(apiKey, { sourceCode: ts, sourceType: 'typescript', jsonSchema: { name: 'greet', parameters: { type: 'object', properties: {} } } });
    expect(greet).toMatchObject({ name: 'greet', sourceType: 'typescript', description: null });
  });

  it('takes parameters from argsJsonSchema, name and description still from the function', async () => {
    const { apiKey } = await t.seed();
    const argsJsonSchema = {
      title: 'LookupArgs',
      type: 'object',
      properties: { city: { type: 'string', description: 'City and country.' }, days: { type: 'integer', default: 3 } },
      required: ['city'],
    };
    const tool = await createOk(apiKey, { sourceCode: DERIVED[0].source, argsJsonSchema });
    expect(tool).toMatchObject({
      name: 'get_weather',
      description: 'Get the current weather for a city.',
      argsJsonSchema,
      jsonSchema: {
        name: 'get_weather',
        description: 'Get the current weather for a city.',
        parameters: { type: 'object', properties: argsJsonSchema.properties, required: ['city'] },
      },
    });
    const bad = await create(apiKey, { sourceCode: pythonTool('x'), argsJsonSchema: { properties: { a: 1 }, required: 'a' } });
    expect(firstError(bad)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'argsJsonSchema.required' });
  });

  it('refuses a second tool with the same name, and built-in names, with CONFLICT; other organizations may reuse names', async () => {
    const { apiKey } = await t.seed();
    const first = await createOk(apiKey, { sourceCode: pythonTool('translate') });
    const dup = firstError(await create(apiKey, { sourceCode: pythonTool('translate', 'Another translator.') }));
    expect(dup).toMatchObject({ code: 'CONFLICT', field: 'sourceCode', message: 'A tool named "translate" already exists in this organization' });
    const viaSchema = firstError(await create(apiKey, { sourceCode: pythonTool('translate'), jsonSchema: { name: 'translate' } }));
    expect(viaSchema).toMatchObject({ code: 'CONFLICT', field: 'jsonSchema.name' });
    const builtIn = firstError(await create(apiKey, { sourceCode: pythonTool('send_message') }));
    expect(builtIn).toMatchObject({ code: 'CONFLICT', field: 'sourceCode' });
    expect(builtIn.message).toMatch(/"send_message" is the name of a built-in Letta tool/);
    expect((await t.gqlOk(apiKey, '{ tools(includeBaseTools: false) { totalCount edges { node { id description } } } }')).tools).toEqual({
      totalCount: 1,
      edges: [{ node: { id: first.id, description: 'Run translate.' } }],
    });
    expect((await create((await t.seed()).apiKey, { sourceCode: pythonTool('translate') })).errors).toBeUndefined();
  });

  it('upserts by name, keeping the id and replacing source and schema', async () => {
    const { apiKey } = await t.seed();
    const first = await upsert(apiKey, { sourceCode: pythonTool('summarize'), tags: ['nlp'], argsJsonSchema: { properties: { text: { type: 'string' } } } });
    expect(first.created).toBe(true);
    expect(first.tool).toMatchObject({ name: 'summarize', tags: ['nlp'], argsJsonSchema: { properties: { text: { type: 'string' } } } });
    const newSource = `
def summarize(text: str, max_words: int = 50) -> str:
    """Summarize a text.

    Args:
        text: The text to summarize.
        max_words: Longest summary.
    """
    return text
`;
    const second = await upsert(apiKey, { sourceCode: newSource, returnCharLimit: 2000 });
    expect(second.created).toBe(false);
    expect(second.tool).toMatchObject({
      id: first.tool.id,
      name: 'summarize',
      description: 'Summarize a text.',
      sourceCode: newSource,
      tags: ['nlp'],
      returnCharLimit: 2000,
      argsJsonSchema: null,
      jsonSchema: { parameters: { properties: { max_words: { type: 'integer', default: 50, description: 'Longest summary.' } }, required: ['text'] } },
    });
    expect(await customCount(apiKey)).toBe(1);
    // The same again changes nothing, not even updatedAt.
    const third = await upsert(apiKey, { sourceCode: newSource, returnCharLimit: 2000 });
    expect(third).toEqual(second);
    const builtIn = await t.gql(apiKey, 'mutation($s: String!) { upsertTool(input: { sourceCode: $s }) { created } }', { s: pythonTool('grep_files') });
    expect(firstError(builtIn).code).toBe('CONFLICT');
  });

  it('concurrent upserts of one name create one tool and update it', async () => {
    const { apiKey } = await t.seed();
    const results = await Promise.all([1, 2, 3, 4].map((n) => upsert(apiKey, { sourceCode: pythonTool('race', `Version ${n}.`) })));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.tool.id)).size).toBe(1);
    expect(await customCount(apiKey)).toBe(1);
  });

  it('updates only the given fields; an identical update writes nothing', async () => {
    const { apiKey } = await t.seed();
    const tool = await createOk(apiKey, { sourceCode: pythonTool('classify'), tags: ['a'], metadata: { k: 1 } });
    const same = await updateOk(apiKey, tool.id, { tags: ['a'], metadata: { k: 1 }, description: 'Run classify.' });
    expect(same).toEqual(tool);
    const changed = await updateOk(apiKey, tool.id, { tags: ['b', 'c'], returnCharLimit: 10, metadata: { k: 2 }, description: null });
    expect(changed).toMatchObject({ ...tool, tags: ['b', 'c'], returnCharLimit: 10, metadata: { k: 2 }, updatedAt: changed.updatedAt });
    expect(changed.updatedAt > tool.updatedAt).toBe(true);
    expect(firstError(await update(apiKey, tool.id, { returnCharLimit: -5 }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'returnCharLimit' });
    expect(firstError(await update(apiKey, tool.id, { sourceType: 'cobol' }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'sourceType' });
  });

  it('re-derives the schema from new source code, which must still define the tool’s function', async () => {
    const { apiKey } = await t.seed();
    const tool = await createOk(apiKey, { sourceCode: pythonTool('classify'), description: 'Custom description.' });
    const newSource = `
from typing import Literal


def classify(text: str, labels: list[str], mode: Literal["single", "multi"] = "single") -> str:
    """Classify a text into one of the labels.

    Args:
        text: The text to classify.
        labels: The candidate labels.
        mode: One label or several.
    """
    return labels[0]
`;
    const updated = await updateOk(apiKey, tool.id, { sourceCode: newSource });
    expect(updated).toMatchObject({ id: tool.id, name: 'classify', sourceCode: newSource, description: 'Classify a text into one of the labels.' });
    expect(updated.jsonSchema.parameters).toMatchObject({ required: ['text', 'labels'], properties: { mode: { enum: ['single', 'multi'] } } });

    const renamed = firstError(await update(apiKey, tool.id, { sourceCode: pythonTool('categorize') }));
    expect(renamed).toMatchObject({ code: 'BAD_USER_INPUT', field: 'sourceCode' });
    expect(renamed.message).toMatch(/must define the function "classify".*not "categorize"; to rename the tool, send a jsonSchema/);
    const broken = firstError(await update(apiKey, tool.id, { sourceCode: 'def classify(:\n  pass' }));
    expect(broken).toMatchObject({ code: 'BAD_USER_INPUT', field: 'sourceCode' });
    expect(broken.message).toMatch(/^Failed to derive json schema: syntax error/);
    expect((await t.gqlOk(apiKey, 'query($id: ID!) { tool(id: $id) { sourceCode } }', { id: tool.id })).tool.sourceCode).toBe(newSource);
  });

  it('renames through a new jsonSchema; a taken name is a CONFLICT and changes nothing', async () => {
    const { apiKey } = await t.seed();
    const a = await createOk(apiKey, { sourceCode: pythonTool('alpha') });
    await createOk(apiKey, { sourceCode: pythonTool('beta') });
    const schema = (name: string) => ({ name, description: `The ${name} tool.`, parameters: { type: 'object', properties: {}, required: [] } });

    const renamed = await updateOk(apiKey, a.id, { jsonSchema: schema('gamma') });
    expect(renamed).toMatchObject({ id: a.id, name: 'gamma', description: 'The gamma tool.', jsonSchema: schema('gamma'), sourceCode: a.sourceCode });
    const taken = firstError(await update(apiKey, a.id, { jsonSchema: schema('beta'), tags: ['x'] }));
    expect(taken).toMatchObject({ code: 'CONFLICT', field: 'jsonSchema.name', message: 'A tool named "beta" already exists in this organization' });
    expect(firstError(await update(apiKey, a.id, { jsonSchema: schema('core_memory_append') })).code).toBe('CONFLICT');
    // New source with the new schema must define the function the schema names.
    const mismatch = firstError(await update(apiKey, a.id, { jsonSchema: schema('delta'), sourceCode: pythonTool('epsilon') }));
    expect(mismatch).toMatchObject({ code: 'BAD_USER_INPUT', field: 'sourceCode' });
    const both = await updateOk(apiKey, a.id, { jsonSchema: schema('delta'), sourceCode: pythonTool('delta') });
    expect(both).toMatchObject({ name: 'delta', sourceCode: pythonTool('delta'), jsonSchema: schema('delta') });
    const after = await t.gqlOk(apiKey, '{ tools(includeBaseTools: false, orderBy: { field: NAME }) { edges { node { name tags } } } }');
    expect(after.tools.edges.map((e: any) => e.node)).toEqual([{ name: 'beta', tags: [] }, { name: 'delta', tags: [] }]);
  });

  it('deletes a custom tool and detaches it from agents; built-in tools cannot be deleted or rewritten', async () => {
    const { apiKey } = await t.seed();
    const tool = await createOk(apiKey, { sourceCode: pythonTool('doomed') });
    const agent = (await t.gqlOk(apiKey, 'mutation($ids: [ID!]) { createAgent(input: { name: "bot", toolIds: $ids, includeBaseTools: true }) { agent { id tools { totalCount edges { node { name } } } } } }', { ids: [tool.id] })).createAgent.agent;
    expect(agent.tools.edges.map((e: any) => e.node.name)).toContain('doomed');
    expect(agent.tools.totalCount).toBe(BASE_TOOL_NAMES.length + 1);
    expect((await t.gqlOk(apiKey, 'query($id: ID!) { tool(id: $id) { agentCount } }', { id: tool.id })).tool.agentCount).toBe(1);

    const deleted = await t.gqlOk(apiKey, 'mutation($id: ID!) { deleteTool(id: $id) { deletedToolId name } }', { id: tool.id });
    expect(deleted.deleteTool).toEqual({ deletedToolId: tool.id, name: 'doomed' });
    expect(firstError(await t.gql(apiKey, 'query($id: ID!) { tool(id: $id) { id } }', { id: tool.id }))).toMatchObject({ code: 'NOT_FOUND', message: `Tool ${tool.id} not found` });
    const tools = (await t.gqlOk(apiKey, 'query($id: ID!) { agent(id: $id) { tools(first: 100) { edges { node { name } } } } }', { id: agent.id })).agent.tools.edges.map((e: any) => e.node.name);
    expect(tools.sort()).toEqual([...BASE_TOOL_NAMES].sort());

    const sendMessage = (await t.gqlOk(apiKey, '{ tools(name: "send_message") { edges { node { id isBaseTool agentCount } } } }')).tools.edges[0].node;
    expect(sendMessage).toMatchObject({ isBaseTool: true, agentCount: 1 });
    const refused = firstError(await t.gql(apiKey, 'mutation($id: ID!) { deleteTool(id: $id) { name } }', { id: sendMessage.id }));
    expect(refused).toMatchObject({ code: 'FORBIDDEN', message: 'send_message is a built-in tool and cannot be deleted; detach it from agents instead' });
    const rewrite = firstError(await update(apiKey, sendMessage.id, { sourceCode: pythonTool('send_message') }));
    expect(rewrite).toMatchObject({ code: 'FORBIDDEN', message: 'send_message is a built-in tool: its source and schema cannot be changed' });
    // Its presentation may change.
    expect(await updateOk(apiKey, sendMessage.id, { tags: ['chat'], returnCharLimit: 500 })).toMatchObject({ tags: ['chat'], returnCharLimit: 500, isBaseTool: true });
    expect((await t.gqlOk(apiKey, '{ toolsCount(includeBaseTools: true) }')).toolsCount).toBe(9);
  });

  it('lists built-in tools with the organization’s own, creating them on first listing; toolsCount counts them only on request', async () => {
    const { apiKey } = await t.seed();
    expect(await customCount(apiKey)).toBe(0);
    // A totalCount alone (no nodes) must see them too.
    expect((await t.gqlOk(apiKey, '{ tools { totalCount } }')).tools.totalCount).toBe(9);
    await createOk(apiKey, { sourceCode: pythonTool('mine') });
    const all = await t.gqlOk(apiKey, '{ tools(first: 100) { totalCount edges { node { name toolType isBaseTool tags } } } toolsCount withBase: toolsCount(includeBaseTools: true) }');
    expect(all.tools.totalCount).toBe(10);
    // Built-in tools are created in one statement, so they share a createdAt; the custom tool comes after them.
    const listed = all.tools.edges.map((e: any) => e.node.name);
    expect(listed.slice(0, 9).sort()).toEqual([...BASE_TOOL_NAMES, ...FILE_TOOL_NAMES].sort());
    expect(listed[9]).toBe('mine');
    expect(all.tools.edges.filter((e: any) => e.node.isBaseTool)).toHaveLength(9);
    expect(all.toolsCount).toBe(1);
    expect(all.withBase).toBe(10);
    const files = await t.gqlOk(apiKey, '{ tools(toolTypes: ["letta_files_core"]) { edges { node { name tags } } } }');
    expect(files.tools.edges.map((e: any) => e.node).sort((x: any, y: any) => x.name.localeCompare(y.name))).toEqual(
      [...FILE_TOOL_NAMES].sort().map((name) => ({ name, tags: ['letta_files_core'] })),
    );
    // In a fresh organization, counting with base tools creates them too.
    const other = await t.seed();
    expect((await t.gqlOk(other.apiKey, '{ toolsCount(includeBaseTools: true) }')).toolsCount).toBe(9);
  });

  it('filters by name, names, ids, search, tags, tool types, and pages with cursors', async () => {
    const { apiKey } = await t.seed();
    const made: Record<string, string> = {};
    for (const [name, tags] of [['fetch_page', ['web', 'http']], ['fetch_feed', ['web', 'rss']], ['Parse_HTML', ['web', 'html']], ['send_sms', ['phone']], ['roll_dice', []]] as const) {
      made[name] = (await createOk(apiKey, { sourceCode: pythonTool(name), tags })).id;
    }
    const names = async (args: string, query = '{ tools(%ARGS%, includeBaseTools: false) { totalCount edges { node { name } } } }') => {
      const result = await t.gqlOk(apiKey, query.replace('%ARGS%', args));
      const listed = result.tools.edges.map((e: any) => e.node.name);
      expect(result.tools.totalCount).toBe(listed.length);
      return listed;
    };
    expect(await names('name: "fetch_page"')).toEqual(['fetch_page']);
    expect(await names('name: "FETCH_PAGE"')).toEqual([]);
    expect(await names('names: ["send_sms", "roll_dice", "nope"]')).toEqual(['send_sms', 'roll_dice']);
    expect(await names(`ids: ["${made.roll_dice}", "${made.fetch_feed}"]`)).toEqual(['fetch_feed', 'roll_dice']);
    expect(await names('search: "FETCH"')).toEqual(['fetch_page', 'fetch_feed']);
    expect(await names('search: "html"')).toEqual(['Parse_HTML']);
    expect(await names('tags: ["rss", "phone"]')).toEqual(['fetch_feed', 'send_sms']);
    expect(await names('tags: ["web", "http"], matchAllTags: true')).toEqual(['fetch_page']);
    expect(await names('tags: [], names: []')).toEqual(Object.keys(made));
    expect(await names('search: "fetch", tags: ["rss"]')).toEqual(['fetch_feed']);
    expect(await names('excludeToolTypes: ["custom"]')).toEqual([]);
    expect(await names('toolTypes: ["custom"], search: "_s"')).toEqual(['send_sms']); // `_` is not a wildcard
    expect(await names('search: "%"')).toEqual([]);
    const core = await names('toolTypes: ["letta_core"]', '{ tools(%ARGS%) { totalCount edges { node { name } } } }');
    expect(core.sort()).toEqual(['archival_memory_insert', 'archival_memory_search', 'conversation_search', 'send_message']);
    expect((await t.gqlOk(apiKey, '{ toolsCount(search: "fetch") a: toolsCount(tags: ["web"], matchAllTags: true) b: toolsCount(toolTypes: ["letta_core"], includeBaseTools: true) }'))).toEqual({ toolsCount: 2, a: 3, b: 4 });

    const page1 = await t.gqlOk(apiKey, '{ tools(first: 2, includeBaseTools: false) { edges { node { name } } pageInfo { hasNextPage endCursor } } }');
    expect(page1.tools.edges.map((e: any) => e.node.name)).toEqual(['fetch_page', 'fetch_feed']);
    expect(page1.tools.pageInfo.hasNextPage).toBe(true);
    const page2 = await t.gqlOk(apiKey, 'query($after: String) { tools(first: 2, after: $after, includeBaseTools: false) { edges { node { name } } pageInfo { hasNextPage } } }', { after: page1.tools.pageInfo.endCursor });
    expect(page2.tools.edges.map((e: any) => e.node.name)).toEqual(['Parse_HTML', 'send_sms']);
    const byName = await t.gqlOk(apiKey, '{ tools(includeBaseTools: false, orderBy: { field: NAME, direction: DESC }, first: 3) { edges { node { name } } } }');
    expect(byName.tools.edges.map((e: any) => e.node.name)).toEqual(['send_sms', 'roll_dice', 'fetch_page']);
  });

  it('rejects malformed ids, unknown tool types and bad page sizes with BAD_USER_INPUT', async () => {
    const { apiKey } = await t.seed();
    const cases: [string, Record<string, unknown>?, string?][] = [
      ['{ tool(id: "tool-123") { id } }', undefined, 'id'],
      ['{ tool(id: "source-00000000-0000-4000-8000-000000000000") { id } }', undefined, 'id'],
      ['mutation { updateTool(id: "nope", input: { tags: ["x"] }) { tool { id } } }', undefined, 'id'],
      ['mutation { deleteTool(id: "tool-xyz") { name } }', undefined, 'id'],
      ['{ tools(ids: ["tool-1"]) { totalCount } }', undefined, 'ids'],
      ['{ tools(toolTypes: ["magic"]) { totalCount } }', undefined, 'toolTypes'],
      ['{ toolsCount(excludeToolTypes: ["custom", "magic"]) }', undefined, 'excludeToolTypes'],
      ['{ tools(first: -1) { totalCount } }'],
      ['{ tools(orderBy: { field: SIZE }) { totalCount } }'],
      ['{ node(id: "tool-123") { id } }'],
    ];
    for (const [query, variables, field] of cases) {
      const error = firstError(await t.gql(apiKey, query, variables));
      expect(error.code, query).toBe('BAD_USER_INPUT');
      if (field) expect(error.field, query).toBe(field);
    }
    expect(firstError(await t.gql(apiKey, '{ tools(toolTypes: ["magic"]) { totalCount } }')).message).toMatch(/Invalid tool type "magic"; expected one of: custom, letta_core/);
  });

  it("treats another organization's tools exactly like missing ones", async () => {
    const a = await t.seed();
    const b = await t.seed();
    const theirs = await createOk(b.apiKey, { sourceCode: pythonTool('secret_tool') });
    const outcomes = [];
    for (const id of [theirs.id, MISSING_ID]) {
      const read = await t.gql(a.apiKey, 'query($id: ID!) { tool(id: $id) { id } }', { id });
      const node = await t.gql(a.apiKey, 'query($id: ID!) { node(id: $id) { id } }', { id });
      const upd = await update(a.apiKey, id, { tags: ['mine'] });
      const del = await t.gql(a.apiKey, 'mutation($id: ID!) { deleteTool(id: $id) { name } }', { id });
      outcomes.push([read, upd, del].map((r) => r.errors?.map((e) => [e.extensions?.code, e.message.replace(id, 'ID')])).concat([[node.data]]));
    }
    expect(outcomes[0]).toEqual(outcomes[1]);
    expect(outcomes[0][0]).toEqual([['NOT_FOUND', 'Tool ID not found']]);
    expect(outcomes[0][3]).toEqual([{ node: null }]);
    const lists = await t.gqlOk(a.apiKey, `{ tools(search: "secret") { totalCount } toolsCount withBase: toolsCount(includeBaseTools: true) byId: tools(ids: ["${theirs.id}"]) { totalCount } }`);
    expect(lists).toEqual({ tools: { totalCount: 0 }, toolsCount: 0, withBase: 9, byId: { totalCount: 0 } });
    // Their base tools are theirs: a's listing created a's own, and b's tool is untouched.
    expect((await t.gqlOk(b.apiKey, 'query($id: ID!) { tool(id: $id) { tags } }', { id: theirs.id })).tool.tags).toEqual([]);
    expect((await t.gqlOk(b.apiKey, '{ toolsCount withBase: toolsCount(includeBaseTools: true) }'))).toEqual({ toolsCount: 1, withBase: 10 });
  });
});
