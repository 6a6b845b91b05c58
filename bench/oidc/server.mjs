// The token-endpoint peer of bench/api.sh (issue 9): node-oidc-provider 9 with its default
// in-memory adapter, one Node process, one client allowed client_credentials with
// client_secret_basic, and a resource server whose access tokens are ES256 JWTs — the same
// grant, client authentication and token format as Orderly's POST /oauth2/token.
//   node server.mjs PORT CLIENT_ID CLIENT_SECRET
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const [port = '3310', clientId = 'bench-machine', clientSecret = 'bench-secret'] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const audience = 'http://127.0.0.1:3000/api';
const scope = 'products:read';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
    scope,
  }],
  jwks: { keys: [jwk] },
  scopes: [scope],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope,
        audience,
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider ${issuer}`);
});
