// The unmutated requests the fuzz tests start from (protojson), with the demo
// policy's answer to each: allowed and denied ones, with JSON, form and
// multipart bodies, tokens, metadata, context extensions and a certificate-less
// mTLS-style source, so mutations reach every part of the decoder and input.

const FRONTEND = 'spiffe://cluster.local/ns/web/sa/frontend';
const TRAINER = 'spiffe://cluster.local/ns/ml-training/sa/trainer';

function http(principal: string, fields: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    attributes: {
      source: { address: { socketAddress: { address: '10.1.2.3', portValue: 41234 } }, principal },
      destination: { address: { socketAddress: { address: '10.1.2.4', portValue: 8080 } }, principal: 'spiffe://cluster.local/ns/ml-serving/sa/model' },
      request: {
        time: '2025-12-03T22:13:20.000000005Z',
        http: { id: '4711', scheme: 'http', protocol: 'HTTP/1.1', host: 'fraud-detector.ml-serving.svc.cluster.local', ...fields },
      },
      ...extra,
    },
  };
}

export const FUZZ_BASES: ReadonlyArray<{ readonly name: string; readonly allowed: boolean; readonly request: object }> = [
  {
    name: 'frontend infers (JSON body)',
    allowed: true,
    request: http(FRONTEND, {
      method: 'POST',
      path: '/v2/models/fraud-detector/infer',
      headers: { 'content-type': 'application/json', 'x-request-id': '7d1f0c5e' },
      body: '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[0.5]}]}',
    }),
  },
  {
    name: 'trainer infers (denied)',
    allowed: false,
    request: http(TRAINER, {
      method: 'POST',
      path: '/v2/models/fraud-detector/infer',
      headers: { 'content-type': 'application/json', authorization: 'Bearer eyJhbGciOiJub25lIn0.e30.' },
      body: '{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[0.5,1.5]}],"parameters":{"a":{"b":[1,2,{"c":null}]}}}',
    }),
  },
  {
    name: 'frontend chat completion (JSON body, query)',
    allowed: true,
    request: http(FRONTEND, {
      method: 'POST',
      path: '/v1/chat/completions?stream=false&x=%20y',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: '{"model":"llama-3-8b","messages":[{"role":"user","content":"hi \\u00e9"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}',
    }),
  },
  {
    name: 'trainer reads training features (form body, metadata)',
    allowed: true,
    request: http(
      TRAINER,
      {
        method: 'POST',
        path: '/features/training/fraud',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'entity=1&entity=2&view=a%26b',
      },
      {
        contextExtensions: { team: 'ml' },
        metadataContext: {
          filterMetadata: {
            'envoy.filters.http.jwt_authn': {
              fields: {
                sub: { stringValue: 'alice' },
                n: { listValue: { values: [{ numberValue: 1 }, { structValue: { fields: { x: { boolValue: true } } } }] } },
              },
            },
          },
        },
      },
    ),
  },
  {
    name: 'frontend reads training features (multipart, denied)',
    allowed: false,
    request: http(FRONTEND, {
      method: 'POST',
      path: '/features/training/fraud',
      headers: { 'content-type': 'multipart/form-data; boundary=XyZ' },
      body: '--XyZ\r\ncontent-disposition: form-data; name="entity"\r\n\r\n1\r\n--XyZ--\r\n',
    }),
  },
  {
    name: 'no principal loads a model (denied)',
    allowed: false,
    request: http('', {
      method: 'GET',
      path: '/registry/models/fraud/versions/3/artifacts',
      headers: { 'x-forwarded-client-cert': 'By=spiffe://cluster.local/ns/x/sa/y;URI=spiffe://cluster.local/ns/ml-serving/sa/model' },
    }),
  },
];
