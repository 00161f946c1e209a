/**
 * A self-contained HTML page describing the REST shim, rendered from the OpenAPI document (so from the route
 * table): no scripts and no external assets, so it works offline.
 */

type Json = Record<string, any>;

const escape = (text: unknown) =>
  String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const anchor = (text: string) => text.replace(/[^A-Za-z0-9_-]/g, '-');

/** A short type for a parameter or property: `string`, `integer`, `Source[]`, `"a" | "b"`… */
function typeOf(schema: Json | undefined): string {
  if (!schema) return 'any';
  if (schema.$ref) return String(schema.$ref).split('/').pop()!;
  if (schema.enum) return schema.enum.map((v: unknown) => JSON.stringify(v)).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(' | ');
  if (schema.type === 'array') return `${typeOf(schema.items)}[]`;
  if (schema.type === 'object' && schema.additionalProperties && !schema.properties) return 'object';
  return schema.format ? `${schema.type} (${schema.format})` : (schema.type ?? 'any');
}

/** A schema as indented HTML with links to named components. */
function schemaHtml(schema: Json): string {
  const json = JSON.stringify(schema, null, 2);
  return `<pre>${escape(json).replace(/&quot;#\/components\/schemas\/([A-Za-z0-9_]+)&quot;/g, (_m, name) => `<a href="#schema-${name}">${name}</a>`)}</pre>`;
}

function parametersHtml(parameters: Json[]): string {
  if (!parameters.length) return '';
  const rows = parameters
    .map(
      (p) =>
        `<tr><td><code>${escape(p.name)}</code>${p.required ? ' <span class="req">required</span>' : ''}${p.deprecated ? ' <span class="dep">deprecated</span>' : ''}</td>` +
        `<td>${escape(p.in)}</td><td><code>${escape(typeOf(p.schema))}</code>${p.schema?.default !== undefined ? ` (default <code>${escape(JSON.stringify(p.schema.default))}</code>)` : ''}</td>` +
        `<td>${escape(p.description ?? p.schema?.description ?? '')}</td></tr>`,
    )
    .join('');
  return `<table><thead><tr><th>parameter</th><th>in</th><th>type</th><th>meaning</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function operationHtml(path: string, method: string, op: Json): string {
  const id = anchor(op.operationId);
  const body = op.requestBody
    ? Object.entries(op.requestBody.content as Record<string, Json>)
        .map(([type, content]) => `<h4>Body (${escape(type)}${op.requestBody.required ? '' : ', optional'})</h4>${schemaHtml(content.schema)}`)
        .join('')
    : '';
  const responses = Object.entries(op.responses as Record<string, Json>)
    .map(([status, response]) => {
      if (response.$ref) return `<li><b>${escape(status)}</b> <a href="#response-${String(response.$ref).split('/').pop()}">${escape(String(response.$ref).split('/').pop())}</a></li>`;
      const schema = response.content?.['application/json']?.schema;
      return `<li><b>${escape(status)}</b> ${escape(response.description ?? '')}${schema ? ` <code>${escape(typeOf(schema))}</code>${schema.$ref ? '' : schemaHtml(schema)}` : ''}</li>`;
    })
    .join('');
  return `<section class="op" id="${id}">
<h3><span class="method ${method}">${method.toUpperCase()}</span> <code>${escape(path)}</code>${op.deprecated ? ' <span class="dep">deprecated</span>' : ''}</h3>
<p><b>${escape(op.summary)}</b> <small>(${escape(op.operationId)})</small></p>
${op.description ? `<p>${escape(op.description)}</p>` : ''}
${parametersHtml(op.parameters ?? [])}${body}
<h4>Responses</h4><ul>${responses}</ul>
</section>`;
}

export function renderDocsPage(openapi: Json): string {
  const byTag = new Map<string, string[]>();
  const nav = new Map<string, string[]>();
  for (const [path, operations] of Object.entries(openapi.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(operations)) {
      const tag = op.tags?.[0] ?? 'other';
      (byTag.get(tag) ?? byTag.set(tag, []).get(tag)!).push(operationHtml(path, method, op));
      (nav.get(tag) ?? nav.set(tag, []).get(tag)!).push(
        `<li><a href="#${anchor(op.operationId)}"><span class="method ${method}">${method.toUpperCase()}</span> ${escape(path)}</a></li>`,
      );
    }
  }
  const schemas = Object.entries(openapi.components.schemas as Record<string, Json>)
    .map(([name, schema]) => `<section id="schema-${name}"><h3>${escape(name)}</h3>${schema.description ? `<p>${escape(schema.description)}</p>` : ''}${schemaHtml(schema)}</section>`)
    .join('');
  const responses = Object.entries(openapi.components.responses as Record<string, Json>)
    .map(([name, r]) => `<li id="response-${name}"><b>${escape(name)}</b>: ${escape(r.description)}</li>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(openapi.info.title)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;display:flex;color:#1d2330}
nav{width:320px;flex:none;height:100vh;overflow:auto;position:sticky;top:0;background:#f4f5f7;padding:1em;box-sizing:border-box;font-size:13px}
nav ul{list-style:none;padding:0;margin:0 0 1em}nav a{text-decoration:none;color:inherit}
main{padding:1em 2em;max-width:1000px;overflow:hidden}
.method{display:inline-block;min-width:4em;font:bold 11px monospace;padding:2px 4px;border-radius:3px;color:#fff;text-align:center}
.get{background:#2f7d32}.post{background:#1565c0}.put{background:#6a1b9a}.patch{background:#ef6c00}.delete{background:#c62828}
.op{border-top:1px solid #ddd;padding-top:.5em}pre{background:#f7f7f9;padding:.6em;overflow:auto;font-size:12px;max-height:400px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
.req{color:#c62828;font-size:11px}.dep{color:#8d6e63;font-size:11px}
</style></head>
<body><nav><p><b>${escape(openapi.info.title)}</b><br><a href="/openapi.json">openapi.json</a></p>
${[...nav].map(([tag, items]) => `<h4>${escape(tag)}</h4><ul>${items.join('')}</ul>`).join('')}
<h4><a href="#schemas">schemas</a></h4></nav>
<main><h1>${escape(openapi.info.title)}</h1><p>${escape(openapi.info.description)}</p>
${[...byTag].map(([tag, ops]) => `<h2 id="tag-${anchor(tag)}">${escape(tag)}</h2>${ops.join('')}`).join('')}
<h2>Error responses</h2><ul>${responses}</ul>
<h2 id="schemas">Schemas</h2>${schemas}
</main></body></html>`;
}
