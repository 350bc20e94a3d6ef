/**
 * JSON Schemas (draft-07) for the four OCSF 1.3.0 classes Writ exports, written for these tests from the OCSF 1.3.0
 * schema definitions (schema.ocsf.io, the `v1.3.0` tag of ocsf-schema): each class's required attributes, the
 * required attributes and `at_least_one` / `just_one` constraints of the objects it uses, the enumerations of the
 * classification attributes, and — so that a misspelt attribute does not pass unnoticed — the closed list of
 * attributes each class defines. The npm registry carries no OCSF schema package; this is the part Writ relies on.
 */

const integer = { type: 'integer' } as const;
const string = { type: 'string' } as const;

/** At least one of `keys` present. */
const atLeastOne = (keys: readonly string[]): { anyOf: Array<{ required: string[] }> } => ({ anyOf: keys.map((k) => ({ required: [k] })) });

const entity = { type: 'object', properties: { name: string, uid: string }, ...atLeastOne(['name', 'uid']) };
const user = {
  type: 'object',
  properties: { uid: string, name: string, account: { type: 'object' } },
  ...atLeastOne(['account', 'name', 'uid']),
};
const networkEndpoint = {
  type: 'object',
  properties: { ip: { type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] }, uid: string, name: string, hostname: string },
  ...atLeastOne(['ip', 'uid', 'name', 'hostname', 'svc_name', 'instance_uid', 'interface_uid', 'interface_name']),
};
const actor = {
  type: 'object',
  properties: { user, app_name: string, app_uid: string, session: { type: 'object', properties: { uid: string } } },
  ...atLeastOne(['process', 'user', 'invoked_by', 'session', 'app_name', 'app_uid']),
};
const metadata = {
  type: 'object',
  required: ['product', 'version'],
  properties: {
    version: { const: '1.3.0' },
    product: { type: 'object', required: ['vendor_name'], properties: { vendor_name: string, name: string, version: string } },
    uid: string,
    correlation_uid: string,
    sequence: integer,
    log_name: string,
    event_code: string,
  },
};

/** Attributes of every OCSF event (base_event with classification and occurrence). */
const BASE_ATTRIBUTES = [
  'activity_id',
  'activity_name',
  'category_name',
  'category_uid',
  'class_name',
  'class_uid',
  'count',
  'duration',
  'end_time',
  'enrichments',
  'message',
  'metadata',
  'observables',
  'raw_data',
  'severity',
  'severity_id',
  'start_time',
  'status',
  'status_code',
  'status_detail',
  'status_id',
  'time',
  'timezone_offset',
  'type_name',
  'type_uid',
  'unmapped',
];

const IAM_ATTRIBUTES = ['http_request', 'src_endpoint', 'actor', 'device'];

function eventSchema(o: {
  classUid: number;
  categoryUid: number;
  activities: number[];
  required: string[];
  attributes: string[];
  properties: Record<string, unknown>;
  extra?: Record<string, unknown>;
}): Record<string, unknown> {
  const attributes = [...new Set([...BASE_ATTRIBUTES, ...o.attributes])];
  return {
    type: 'object',
    required: ['activity_id', 'category_uid', 'class_uid', 'type_uid', 'time', 'metadata', 'severity_id', ...o.required],
    propertyNames: { enum: attributes },
    properties: {
      class_uid: { const: o.classUid },
      category_uid: { const: o.categoryUid },
      activity_id: { enum: [0, ...o.activities, 99] },
      type_uid: { enum: [0, ...o.activities, 99].map((a) => o.classUid * 100 + a) },
      time: integer,
      severity_id: { enum: [0, 1, 2, 3, 4, 5, 6, 99] },
      status_id: { enum: [0, 1, 2, 99] },
      status_detail: string,
      message: string,
      metadata,
      unmapped: { type: 'object' },
      ...o.properties,
    },
    ...o.extra,
  };
}

export const OCSF_1_3_0_SCHEMAS: Record<number, Record<string, unknown>> = {
  // Application Activity / API Activity
  6003: eventSchema({
    classUid: 6003,
    categoryUid: 6,
    activities: [1, 2, 3, 4],
    required: ['api', 'actor', 'src_endpoint'],
    attributes: ['api', 'actor', 'src_endpoint', 'dst_endpoint', 'http_request', 'resources', 'cloud'],
    properties: {
      api: {
        type: 'object',
        required: ['operation'],
        properties: {
          operation: string,
          service: entity,
          request: { type: 'object', required: ['uid'], properties: { uid: string } },
          response: { type: 'object', properties: { code: integer } },
        },
      },
      actor,
      src_endpoint: networkEndpoint,
      resources: { type: 'array', items: { type: 'object', ...atLeastOne(['name', 'uid']) } },
    },
  }),
  // Identity & Access Management / Authentication
  3002: eventSchema({
    classUid: 3002,
    categoryUid: 3,
    activities: [1, 2, 3, 4, 5, 6],
    required: ['user'],
    attributes: [
      ...IAM_ATTRIBUTES,
      'auth_factors',
      'auth_protocol',
      'auth_protocol_id',
      'certificate',
      'dst_endpoint',
      'is_cleartext',
      'is_mfa',
      'is_new_logon',
      'is_remote',
      'logon_process',
      'logon_type',
      'logon_type_id',
      'service',
      'session',
      'user',
    ],
    properties: {
      user,
      auth_protocol_id: { enum: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 99] },
      service: entity,
      src_endpoint: networkEndpoint,
    },
    extra: atLeastOne(['service', 'dst_endpoint']),
  }),
  // Identity & Access Management / Authorize Session
  3003: eventSchema({
    classUid: 3003,
    categoryUid: 3,
    activities: [1, 2],
    required: ['user'],
    attributes: [...IAM_ATTRIBUTES, 'dst_endpoint', 'group', 'privileges', 'session', 'user'],
    properties: {
      user,
      privileges: { type: 'array', items: string },
      session: { type: 'object', properties: { uid: string, expiration_time: integer } },
      actor,
      src_endpoint: networkEndpoint,
    },
    // just_one of privileges, group
    extra: { oneOf: [{ required: ['privileges'] }, { required: ['group'] }] },
  }),
  // Identity & Access Management / Entity Management
  3004: eventSchema({
    classUid: 3004,
    categoryUid: 3,
    activities: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
    required: ['entity'],
    attributes: [...IAM_ATTRIBUTES, 'comment', 'entity', 'entity_result', 'access_mask', 'access_list'],
    properties: {
      entity: {
        type: 'object',
        properties: { name: string, uid: string, type: string },
        ...atLeastOne(['name', 'uid', 'device', 'group', 'org', 'policy', 'user']),
      },
      actor,
      src_endpoint: networkEndpoint,
    },
  }),
};
