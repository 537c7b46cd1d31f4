// graphql.* on graphql-js, answering the AST OPA answers: gqlparser's (Go)
// structs marshalled to JSON, with nulls, empty lists/objects and positions
// pruned (OPA's pruneIrrelevantGraphQLASTNodes). Validation is graphql-js's
// (specified rules, schema validation) where OPA runs gqlparser's; the rules
// are the GraphQL spec's in both. Query and schema must be strings here;
// OPA also takes an AST object (refused as a documented difference).

import { createRequire } from 'node:module';
import type {
  ArgumentNode,
  ConstValueNode,
  DefinitionNode,
  DirectiveNode,
  DocumentNode,
  FieldDefinitionNode,
  GraphQLSchema,
  InputValueDefinitionNode,
  SelectionNode,
  TypeNode,
  ValueNode,
  VariableDefinitionNode,
} from 'graphql';
import type { BuiltinFn } from './index.ts';
import { BuiltinError, stringOperand } from './util.ts';

type J = Record<string, unknown>;

// graphql-js is loaded on the first graphql.* call: policies that never call
// one pay neither its load time nor its memory.
let lib: typeof import('graphql') | undefined;
const gql = (): typeof import('graphql') => (lib ??= createRequire(import.meta.url)('graphql') as typeof import('graphql'));

// graphql-js's Kind values (stable strings), without loading it.
const Kind = {
  VARIABLE: 'Variable',
  INT: 'IntValue',
  FLOAT: 'FloatValue',
  STRING: 'StringValue',
  BOOLEAN: 'BooleanValue',
  NULL: 'NullValue',
  ENUM: 'EnumValue',
  LIST: 'ListValue',
  OBJECT: 'ObjectValue',
  NON_NULL_TYPE: 'NonNullType',
  LIST_TYPE: 'ListType',
  FIELD: 'Field',
  FRAGMENT_SPREAD: 'FragmentSpread',
  OPERATION_DEFINITION: 'OperationDefinition',
  FRAGMENT_DEFINITION: 'FragmentDefinition',
  FIELD_DEFINITION: 'FieldDefinition',
  SCHEMA_DEFINITION: 'SchemaDefinition',
  SCHEMA_EXTENSION: 'SchemaExtension',
  DIRECTIVE_DEFINITION: 'DirectiveDefinition',
} as const;

/** OPA's pruning: drop nulls and (recursively) empty arrays and objects. */
function prune(v: unknown): unknown {
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (const x of v) {
      if (x === null || x === undefined) continue;
      const p = prune(x);
      if (typeof p === 'object' && p !== null && (Array.isArray(p) ? p.length === 0 : Object.keys(p).length === 0)) continue;
      out.push(p);
    }
    return out;
  }
  if (v !== null && typeof v === 'object') {
    const out: J = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === null || x === undefined || k === 'Position') continue;
      const p = prune(x);
      if (typeof p === 'object' && p !== null && (Array.isArray(p) ? p.length === 0 : Object.keys(p).length === 0)) continue;
      out[k] = p;
    }
    return out;
  }
  return v;
}

const VALUE_KIND: Record<string, number> = {
  [Kind.VARIABLE]: 0,
  [Kind.INT]: 1,
  [Kind.FLOAT]: 2,
  [Kind.STRING]: 3,
  [Kind.BOOLEAN]: 5,
  [Kind.NULL]: 6,
  [Kind.ENUM]: 7,
  [Kind.LIST]: 8,
  [Kind.OBJECT]: 9,
};

function value(v: ValueNode | ConstValueNode): J {
  const out: J = { Raw: '', Kind: VALUE_KIND[v.kind], ExpectedTypeHasDefault: false };
  switch (v.kind) {
    case Kind.VARIABLE:
      out.Raw = v.name.value;
      break;
    case Kind.INT:
    case Kind.FLOAT:
    case Kind.ENUM:
      out.Raw = v.value;
      break;
    case Kind.STRING:
      out.Raw = v.value;
      if (v.block) out.Kind = 4;
      break;
    case Kind.BOOLEAN:
      out.Raw = String(v.value);
      break;
    case Kind.NULL:
      out.Raw = 'null';
      break;
    case Kind.LIST:
      out.Children = v.values.map((c) => ({ Name: '', Value: value(c) }));
      break;
    case Kind.OBJECT:
      out.Children = v.fields.map((f) => ({ Name: f.name.value, Value: value(f.value) }));
      break;
  }
  return out;
}

function type(t: TypeNode): J {
  if (t.kind === Kind.NON_NULL_TYPE) return { ...type(t.type), NonNull: true };
  if (t.kind === Kind.LIST_TYPE) return { NamedType: '', Elem: type(t.type), NonNull: false };
  return { NamedType: t.name.value, NonNull: false };
}

const args = (as: readonly ArgumentNode[] | undefined): J[] => (as ?? []).map((a) => ({ Name: a.name.value, Value: value(a.value) }));
const directives = (ds: readonly DirectiveNode[] | undefined): J[] =>
  (ds ?? []).map((d) => ({ Name: d.name.value, Arguments: args(d.arguments), Location: '' }));

function selections(ss: readonly SelectionNode[] | undefined): J[] {
  return (ss ?? []).map((s): J => {
    if (s.kind === Kind.FIELD) {
      return {
        Alias: (s.alias ?? s.name).value,
        Name: s.name.value,
        Arguments: args(s.arguments),
        Directives: directives(s.directives),
        SelectionSet: selections(s.selectionSet?.selections),
      };
    }
    if (s.kind === Kind.FRAGMENT_SPREAD) return { Name: s.name.value, Directives: directives(s.directives) };
    return { TypeCondition: s.typeCondition?.name.value ?? '', Directives: directives(s.directives), SelectionSet: selections(s.selectionSet.selections) };
  });
}

const varDefs = (vs: readonly VariableDefinitionNode[] | undefined): J[] =>
  (vs ?? []).map((v) => ({
    Variable: v.variable.name.value,
    Type: type(v.type),
    DefaultValue: v.defaultValue ? value(v.defaultValue) : null,
    Directives: directives(v.directives),
    Used: false,
  }));

function queryDocument(doc: DocumentNode): J {
  const ops: J[] = [];
  const frags: J[] = [];
  for (const d of doc.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION) {
      ops.push({
        Operation: d.operation,
        Name: d.name?.value ?? '',
        VariableDefinitions: varDefs(d.variableDefinitions),
        Directives: directives(d.directives),
        SelectionSet: selections(d.selectionSet.selections),
      });
    } else if (d.kind === Kind.FRAGMENT_DEFINITION) {
      frags.push({
        Name: d.name.value,
        VariableDefinition: varDefs(d.variableDefinitions),
        TypeCondition: d.typeCondition.name.value,
        Directives: directives(d.directives),
        SelectionSet: selections(d.selectionSet.selections),
      });
    } else {
      throw new BuiltinError('graphql', `unexpected ${d.kind} in a query`);
    }
  }
  return prune({ Operations: ops, Fragments: frags }) as J;
}

const inputValue = (a: InputValueDefinitionNode): J => ({
  Description: a.description?.value ?? '',
  Name: a.name.value,
  DefaultValue: a.defaultValue ? value(a.defaultValue) : null,
  Type: type(a.type),
  Directives: directives(a.directives),
});
const fieldDef = (f: FieldDefinitionNode): J => ({
  Description: f.description?.value ?? '',
  Name: f.name.value,
  Arguments: (f.arguments ?? []).map(inputValue),
  Type: type(f.type),
  Directives: directives(f.directives),
});

const DEF_KIND: Record<string, string> = {
  ScalarTypeDefinition: 'SCALAR',
  ObjectTypeDefinition: 'OBJECT',
  InterfaceTypeDefinition: 'INTERFACE',
  UnionTypeDefinition: 'UNION',
  EnumTypeDefinition: 'ENUM',
  InputObjectTypeDefinition: 'INPUT_OBJECT',
  ScalarTypeExtension: 'SCALAR',
  ObjectTypeExtension: 'OBJECT',
  InterfaceTypeExtension: 'INTERFACE',
  UnionTypeExtension: 'UNION',
  EnumTypeExtension: 'ENUM',
  InputObjectTypeExtension: 'INPUT_OBJECT',
};

function definition(d: DefinitionNode): J {
  const n = d as unknown as {
    kind: string;
    description?: { value: string };
    name: { value: string };
    directives?: readonly DirectiveNode[];
    interfaces?: readonly { name: { value: string } }[];
    fields?: readonly (FieldDefinitionNode | InputValueDefinitionNode)[];
    types?: readonly { name: { value: string } }[];
    values?: readonly { description?: { value: string }; name: { value: string }; directives?: readonly DirectiveNode[] }[];
  };
  return {
    Kind: DEF_KIND[n.kind],
    Description: n.description?.value ?? '',
    Name: n.name.value,
    Directives: directives(n.directives),
    Interfaces: (n.interfaces ?? []).map((i) => i.name.value),
    Fields: (n.fields ?? []).map((f) => (f.kind === Kind.FIELD_DEFINITION ? fieldDef(f) : { ...inputValue(f), Arguments: [] })),
    Types: (n.types ?? []).map((t) => t.name.value),
    EnumValues: (n.values ?? []).map((e) => ({ Description: e.description?.value ?? '', Name: e.name.value, Directives: directives(e.directives) })),
    BuiltIn: false,
  };
}

function schemaDocument(doc: DocumentNode): J {
  const out: J = { Schema: [], SchemaExtension: [], Directives: [], Definitions: [], Extensions: [] };
  for (const d of doc.definitions) {
    switch (d.kind) {
      case Kind.SCHEMA_DEFINITION:
      case Kind.SCHEMA_EXTENSION:
        (out[d.kind === Kind.SCHEMA_DEFINITION ? 'Schema' : 'SchemaExtension'] as J[]).push({
          Description: d.kind === Kind.SCHEMA_DEFINITION ? (d.description?.value ?? '') : '',
          Directives: directives(d.directives),
          OperationTypes: (d.operationTypes ?? []).map((o) => ({ Operation: o.operation, Type: o.type.name.value })),
        });
        break;
      case Kind.DIRECTIVE_DEFINITION:
        (out.Directives as J[]).push({
          Description: d.description?.value ?? '',
          Name: d.name.value,
          Arguments: (d.arguments ?? []).map(inputValue),
          Locations: d.locations.map((l) => l.value),
          IsRepeatable: d.repeatable,
        });
        break;
      default:
        if (d.kind.endsWith('Extension')) (out.Extensions as J[]).push(definition(d));
        else if (d.kind.endsWith('Definition') && DEF_KIND[d.kind] !== undefined) (out.Definitions as J[]).push(definition(d));
        else throw new BuiltinError('graphql', `unexpected ${d.kind} in a schema`);
    }
  }
  return prune(out) as J;
}

function parseDoc(builtin: string, src: string): DocumentNode {
  try {
    return gql().parse(src, { noLocation: true });
  } catch (e) {
    throw new BuiltinError(builtin, (e as Error).message);
  }
}

interface CompiledSchema {
  readonly doc: DocumentNode;
  readonly schema?: GraphQLSchema;
  /** Why the schema is unusable, if it is. */
  readonly problem?: string;
}

// A policy checks queries against the same schema text again and again:
// building it is most of a call's cost, so the last few are kept.
const schemas = new Map<string, CompiledSchema>();

function compileSchema(builtin: string, text: string): CompiledSchema {
  const hit = schemas.get(text);
  if (hit !== undefined) return hit;
  const doc = parseDoc(builtin, text);
  schemaDocument(doc); // rejects query definitions in a schema
  let compiled: CompiledSchema;
  try {
    const schema = gql().buildASTSchema(doc);
    const problems = schemaProblems(schema);
    compiled = problems.length > 0 ? { doc, problem: problems[0] as string } : { doc, schema };
  } catch (e) {
    compiled = { doc, problem: (e as Error).message };
  }
  if (schemas.size >= 16) schemas.delete(schemas.keys().next().value as string);
  schemas.set(text, compiled);
  return compiled;
}

/** Parses and validates; throws on any problem. */
function check(builtin: string, q: unknown, s: unknown): { query: DocumentNode; schema: DocumentNode } {
  const query = parseDoc(builtin, stringOperand(builtin, q, 1));
  const compiled = compileSchema(builtin, stringOperand(builtin, s, 2));
  queryDocument(query); // rejects schema definitions in the query
  if (compiled.schema === undefined) throw new BuiltinError(builtin, compiled.problem ?? 'invalid schema');
  const schema = compiled.schema;
  // gqlparser also refuses an operation whose root type the schema lacks.
  for (const d of query.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION && schema.getRootType(d.operation) === undefined) {
      throw new BuiltinError(builtin, `Schema does not support operation type "${d.operation}" in GraphQL query string`);
    }
  }
  const errors = gql().validate(schema, query);
  if (errors.length > 0) throw new BuiltinError(builtin, `${errors[0]?.message} in GraphQL query string`);
  return { query, schema: compiled.doc };
}

/** graphql-js's schema validation, less what gqlparser allows: a schema without a Query type. */
function schemaProblems(schema: GraphQLSchema): string[] {
  return gql()
    .validateSchema(schema)
    .map((e) => e.message)
    .filter((m) => !m.startsWith('Query root type must be provided'));
}

function schemaValid(s: unknown): boolean {
  if (typeof s !== 'string') return false;
  try {
    return compileSchema('graphql.schema_is_valid', s).schema !== undefined;
  } catch {
    return false;
  }
}

export function graphqlBuiltins(): Record<string, BuiltinFn> {
  return {
    'graphql.parse_query': (q: unknown) => queryDocument(parseDoc('graphql.parse_query', stringOperand('graphql.parse_query', q, 1))),
    'graphql.parse_schema': (s: unknown) => schemaDocument(parseDoc('graphql.parse_schema', stringOperand('graphql.parse_schema', s, 1))),
    'graphql.parse': (q: unknown, s: unknown) => {
      const { query, schema } = check('graphql.parse', q, s);
      return [queryDocument(query), schemaDocument(schema)];
    },
    'graphql.parse_and_verify': (q: unknown, s: unknown) => {
      try {
        const { query, schema } = check('graphql.parse_and_verify', q, s);
        return [true, queryDocument(query), schemaDocument(schema)];
      } catch {
        return [false, {}, {}];
      }
    },
    'graphql.is_valid': (q: unknown, s: unknown) => {
      try {
        check('graphql.is_valid', q, s);
        return true;
      } catch {
        return false;
      }
    },
    'graphql.schema_is_valid': schemaValid,
  };
}
