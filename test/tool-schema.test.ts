import { describe, expect, it } from 'vitest';
import { deriveToolSchema, pythonFunctionNames, ToolSchemaError } from '../src/domain/tools/python-schema.js';

/** A one-parameter tool annotated with `annotation`, documented as Letta requires. */
function toolWith(annotation: string, defaultValue?: string): string {
  const parameter = defaultValue === undefined ? `value: ${annotation}` : `value: ${annotation} = ${defaultValue}`;
  return `
def use_value(${parameter}) -> str:
    """Use a value.

    Args:
        value: The value to use.
    """
    return str(value)
`;
}

async function parameterSchema(annotation: string, defaultValue?: string) {
  const { jsonSchema } = await deriveToolSchema(toolWith(annotation, defaultValue));
  return { property: jsonSchema.parameters.properties.value, required: jsonSchema.parameters.required };
}

async function failure(source: string): Promise<ToolSchemaError> {
  const error = await deriveToolSchema(source).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ToolSchemaError);
  expect((error as Error).message).toMatch(/^Failed to derive json schema: /);
  return error as ToolSchemaError;
}

describe('deriveToolSchema', () => {
  it('derives the schema of a Letta-style tool', async () => {
    const source = `
import random


def roll_dice(num_sides: int = 6) -> str:
    """
    Roll a die with a given number of sides and return the result.

    Args:
        num_sides (int): The number of sides on the die.

    Returns:
        str: The result of the roll.
    """
    return str(random.randint(1, num_sides))
`;
    expect(await deriveToolSchema(source)).toEqual({
      name: 'roll_dice',
      description: 'Roll a die with a given number of sides and return the result.',
      jsonSchema: {
        name: 'roll_dice',
        description: 'Roll a die with a given number of sides and return the result.',
        parameters: {
          type: 'object',
          properties: {
            num_sides: { type: 'integer', description: 'The number of sides on the die.', default: 6 },
          },
          required: [],
        },
      },
    });
  });

  it('maps the primitive types and marks parameters without defaults required', async () => {
    const source = `
def create_ticket(title: str, priority: int, estimate: float, urgent: bool) -> str:
    """Create a ticket.

    Args:
        title (str): Ticket title.
        priority (int): Priority from 1 to 5.
        estimate (float): Estimated hours.
        urgent (bool): Whether the ticket is urgent.
    """
    return title
`;
    const { jsonSchema } = await deriveToolSchema(source);
    expect(jsonSchema.parameters).toEqual({
      type: 'object',
      properties: {
        title: { type: 'string', description: 'Ticket title.' },
        priority: { type: 'integer', description: 'Priority from 1 to 5.' },
        estimate: { type: 'number', description: 'Estimated hours.' },
        urgent: { type: 'boolean', description: 'Whether the ticket is urgent.' },
      },
      required: ['title', 'priority', 'estimate', 'urgent'],
    });
  });

  it('maps lists, with or without an item type, including typing.List', async () => {
    expect((await parameterSchema('list[int]')).property).toMatchObject({ type: 'array', items: { type: 'integer' } });
    expect((await parameterSchema('List[str]')).property).toMatchObject({ type: 'array', items: { type: 'string' } });
    expect((await parameterSchema('typing.List[float]')).property).toMatchObject({
      type: 'array',
      items: { type: 'number' },
    });
    // Letta defaults an untyped list's items to strings.
    expect((await parameterSchema('list')).property).toMatchObject({ type: 'array', items: { type: 'string' } });
    expect((await parameterSchema('list[list[bool]]')).property).toMatchObject({
      type: 'array',
      items: { type: 'array', items: { type: 'boolean' } },
    });
  });

  it('maps dicts to objects, including list[dict]', async () => {
    for (const annotation of ['dict', 'Dict', 'dict[str, int]', 'Dict[str, list[int]]', 'typing.Dict']) {
      const { property } = await parameterSchema(annotation);
      expect(property, annotation).toEqual({ type: 'object', description: 'The value to use.' });
    }
    expect((await parameterSchema('list[dict]')).property).toEqual({
      type: 'array',
      items: { type: 'object' },
      description: 'The value to use.',
    });
    expect((await parameterSchema('list[dict[str, str]]')).property).toMatchObject({ items: { type: 'object' } });
  });

  it('maps Optional[T], Union[T, None] and T | None to T and does not require them', async () => {
    const optionals = ['Optional[str]', 'typing.Optional[str]', 'Union[str, None]', 'str | None', 'None | str'];
    for (const annotation of optionals) {
      const { property, required } = await parameterSchema(annotation);
      expect(property, annotation).toEqual({ type: 'string', description: 'The value to use.' });
      expect(required, annotation).toEqual([]);
    }
    const nested = await parameterSchema('Optional[list[int]]');
    expect(nested.property).toMatchObject({ type: 'array', items: { type: 'integer' } });
    expect(nested.required).toEqual([]);
    // Optional inside a container only strips the None.
    expect((await parameterSchema('list[int | None]')).property).toMatchObject({ items: { type: 'integer' } });
  });

  it('maps Literal to a string or integer enum', async () => {
    expect((await parameterSchema('Literal["celsius", "fahrenheit"]')).property).toEqual({
      type: 'string',
      enum: ['celsius', 'fahrenheit'],
      description: 'The value to use.',
    });
    expect((await parameterSchema('typing.Literal[1, 2, -3]')).property).toMatchObject({
      type: 'integer',
      enum: [1, 2, -3],
    });
    expect((await parameterSchema('Optional[Literal["asc", "desc"]]', '"asc"')).property).toEqual({
      type: 'string',
      enum: ['asc', 'desc'],
      description: 'The value to use.',
      default: 'asc',
    });
  });

  it('maps fixed-length tuples to prefixItems arrays', async () => {
    expect((await parameterSchema('tuple[float, float]')).property).toMatchObject({
      type: 'array',
      prefixItems: [{ type: 'number' }, { type: 'number' }],
      minItems: 2,
      maxItems: 2,
    });
    expect((await parameterSchema('Tuple[str, list[int]]')).property).toMatchObject({
      prefixItems: [{ type: 'string' }, { type: 'array', items: { type: 'integer' } }],
    });
  });

  it('records simple literal defaults and leaves other defaults out', async () => {
    const cases: [string, string, unknown][] = [
      ['str', '"metric"', 'metric'],
      ['str', "'it\\'s'", "it's"],
      ['str', 'r"C:\\temp"', 'C:\\temp'],
      ['str', '"a\\tb\\x41\\u00e9"', 'a\tbAé'],
      ['str', '"con" "cat"', 'concat'],
      ['int', '-1', -1],
      ['int', '1_000', 1000],
      ['int', '0x1F', 31],
      ['float', '0.5', 0.5],
      ['float', '1e3', 1000],
      ['bool', 'True', true],
      ['bool', 'False', false],
      ['Optional[int]', 'None', null],
      ['list[str]', '["a", "b"]', ['a', 'b']],
      ['list[int]', '[]', []],
    ];
    for (const [annotation, python, expected] of cases) {
      const { property, required } = await parameterSchema(annotation, python);
      expect(property.default, python).toEqual(expected);
      expect(required).toEqual([]);
    }
    const notLiterals = [['int', 'DEFAULT_LIMIT'], ['str', 'f"{x}"'], ['list[int]', '[1, x]'], ['str', 'b"x"']];
    for (const [annotation, python] of notLiterals) {
      const { property, required } = await parameterSchema(annotation, python);
      expect(property, python).not.toHaveProperty('default');
      expect(required).toEqual([]);
    }
  });

  it('takes the last top-level def, plain, async or decorated, and ignores methods and nested defs', async () => {
    const source = `
def first_tool(query: str) -> str:
    """First tool.

    Args:
        query: Query.
    """
    return query


@traced
@retry(times=3)
async def fetch_page(url: str) -> str:
    """Fetch a web page.

    Args:
        url: The page's URL.
    """
    def inner(x: Unknown):
        return x
    return url


class Helper:
    def method(self, x):
        return x
`;
    const { name, jsonSchema } = await deriveToolSchema(source);
    expect(name).toBe('fetch_page');
    expect(jsonSchema.parameters.required).toEqual(['url']);
    expect(await pythonFunctionNames(source)).toEqual(['first_tool', 'fetch_page']);
  });

  it('skips self, agent_state, *args and **kwargs', async () => {
    const source = `
def core_memory_note(self, agent_state: "AgentState", note: str, *args, tags: list[str] = [], **kwargs) -> None:
    """Store a note.

    Args:
        note: The note to store.
        tags: Tags for the note.
    """
    agent_state.memory.note = note
`;
    const { jsonSchema } = await deriveToolSchema(source);
    expect(Object.keys(jsonSchema.parameters.properties)).toEqual(['note', 'tags']);
    expect(jsonSchema.parameters.required).toEqual(['note']);
    expect(jsonSchema.parameters.properties.tags).toEqual({
      type: 'array',
      items: { type: 'string' },
      description: 'Tags for the note.',
      default: [],
    });
  });

  it('reads the summary and long description, leaving out the sections', async () => {
    const source = `
def search_archive(query: str, limit: int = 10) -> list[str]:
    # A comment before the docstring does not hide it.
    """Search the archive for passages
    matching a query.

    The search is case-insensitive and ranks
    passages by relevance.

    Uses the archive's full-text index.

    Args:
        query (str): What to search for. Supports
            quoted phrases
            and prefixes.
        limit (int, optional): Maximum number of passages.

    Returns:
        list[str]: Matching passages.

    Raises:
        ValueError: If the query is empty.

    Examples:
        >>> search_archive("letta")
    """
    return []
`;
    const { description, jsonSchema } = await deriveToolSchema(source);
    expect(description).toBe(
      'Search the archive for passages\nmatching a query.\n\n' +
        "The search is case-insensitive and ranks\npassages by relevance.\n\nUses the archive's full-text index.",
    );
    expect(jsonSchema.description).toBe(description);
    expect(jsonSchema.parameters.properties.query.description).toBe(
      'What to search for. Supports\nquoted phrases\nand prefixes.',
    );
    expect(jsonSchema.parameters.properties.limit.description).toBe('Maximum number of passages.');
    expect(jsonSchema.parameters.required).toEqual(['query']);
  });

  it('accepts the other Args titles, single-quoted and one-line docstrings, and tab indentation', async () => {
    const parameters = await deriveToolSchema(
      "def greet(name: str):\n\t'''Greet someone.\n\n\tParameters:\n\t\tname: Who to greet.\n\t'''\n\treturn name\n",
    );
    expect(parameters.jsonSchema.parameters.properties.name.description).toBe('Who to greet.');
    const oneLine = await deriveToolSchema(
      'def ping() -> str:\n    "Check that the server answers."\n    return "pong"\n',
    );
    expect(oneLine.jsonSchema).toEqual({
      name: 'ping',
      description: 'Check that the server answers.',
      parameters: { type: 'object', properties: {}, required: [] },
    });
  });

  it('falls back to Letta\'s placeholder when the docstring has only sections', async () => {
    const source = 'def noop(x: int):\n    """\n    Args:\n        x: Ignored.\n    """\n';
    const { description } = await deriveToolSchema(source);
    expect(description).toBe('No description available');
  });

  describe('errors', () => {
    it('reports code that does not parse, with its line', async () => {
      const unclosed = await failure(`
def broken(a: int) -> int:
    """Broken.

    Args:
        a: A number.
    """
    values = [1, 2
    return a
`);
      expect(unclosed.message).toMatch(/syntax error: .* at line 8, column \d+$/);
      expect((await failure('def f(:\n    pass\n')).message).toMatch(/syntax error: .*line 1/);
      expect((await failure('def f() -> str:\n    "Doc."\n    print "hi"\n')).message).toContain(
        'syntax error: Python 2 print statement at line 3',
      );
    });

    it('reports a module without a top-level function', async () => {
      const error = await failure('import os\n\nclass Tool:\n    def run(self):\n        """Run."""\n');
      expect(error.message).toBe(
        'Failed to derive json schema: no top-level function definition found in the source code',
      );
    });

    it('reports a missing docstring', async () => {
      for (const body of ['    return 1\n', '    x = "not a docstring"\n', '    f"{1}"\n', '    """   """\n']) {
        const error = await failure(`def get_weather(city: str) -> str:\n${body}`);
        expect(error.message, body).toBe('Failed to derive json schema: Function get_weather missing docstring');
      }
    });

    it('reports a parameter without an annotation', async () => {
      const error = await failure(
        'def send(to, body: str):\n    """Send.\n\n    Args:\n        to: Who.\n        body: What.\n    """\n',
      );
      expect(error.reason).toBe("Parameter 'to' in function 'send' lacks a type annotation");
      const defaulted = await failure('def send(to=1):\n    """Send.\n\n    Args:\n        to: Who.\n    """\n');
      expect(defaulted.reason).toContain("Parameter 'to'");
    });

    it('reports a parameter without a description in Args', async () => {
      const undocumented = await failure(
        'def send(to: str, body: str):\n    """Send.\n\n    Args:\n        to: Who.\n    """\n',
      );
      expect(undocumented.reason).toBe(
        "Parameter 'body' in function 'send' lacks a description in the docstring's Args section",
      );
      const empty = await failure('def send(to: str):\n    """Send.\n\n    Args:\n        to:\n    """\n');
      expect(empty.reason).toContain("Parameter 'to'");
      // A name mentioned only in another section does not count.
      const returnsOnly = await failure(
        'def send(to: str):\n    """Send.\n\n    Returns:\n        to: Who.\n    """\n',
      );
      expect(returnsOnly.reason).toContain("Parameter 'to'");
    });

    it('reports unsupported types', async () => {
      const custom = await failure(`
class Address:
    street: str

def ship(address: Address) -> str:
    """Ship a parcel.

    Args:
        address: Where to.
    """
    return "ok"
`);
      expect(custom.reason).toBe(
        "Parameter 'address' in function 'ship' has an unsupported type annotation 'Address': " +
          "'Address' has no corresponding JSON schema type",
      );
      const unsupported = [
        'Any',
        'list[Address]',
        'int | str',
        'Union[int, str]',
        'Optional[int | str]',
        'tuple[int, ...]',
        'tuple',
        'list[int, str]',
        'Literal[1, "a"]',
        'Literal[1.5]',
        '"int"',
        'collections.abc.Sequence[int]',
      ];
      for (const annotation of unsupported) {
        const error = await failure(toolWith(annotation));
        expect(error.reason, annotation).toContain("Parameter 'value' in function 'use_value' has an unsupported type");
      }
    });
  });
});

describe('pythonFunctionNames', () => {
  it('lists top-level function names in source order', async () => {
    const source = `
def a():
    pass

@decorator
def b():
    pass

async def c():
    def nested():
        pass
`;
    expect(await pythonFunctionNames(source)).toEqual(['a', 'b', 'c']);
    expect(await pythonFunctionNames('x = 1\n')).toEqual([]);
  });
});
