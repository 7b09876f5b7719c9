// A real OpenID provider for Warden's SSO tests: the certified npm `oidc-provider`, on loopback.
//
// Started by tests/it/support/fakes/oidc_provider.rs as
//   node provider.mjs PORT REDIRECT_URI
// with the people it knows in env OIDC_ACCOUNTS (JSON: login -> { email, email_verified, groups }).
// Its development login form accepts any login name with any password; the claims come from
// OIDC_ACCOUNTS. Consent is pre-granted (a first-party client), so sign-in is one form.
import Provider from 'oidc-provider';

const [port, redirectUri] = process.argv.slice(2);
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || '{}');
const idTokenTtl = Number(process.env.OIDC_ID_TOKEN_TTL || 3600);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'warden',
    client_secret: 'warden-test-client-secret',
    redirect_uris: [redirectUri],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
    // Signing out at the provider signs the person out of Warden too.
    backchannel_logout_uri: redirectUri.replace(/\/callback$/, '/backchannel-logout'),
    backchannel_logout_session_required: true,
  }],
  features: { backchannelLogout: { enabled: true } },
  // The provider refuses outgoing calls to special-use addresses (SSRF protection); Warden runs
  // on loopback here, so the back-channel call goes without that dispatcher.
  fetch: (url, options) => {
    delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'groups'],
  // Scope claims go into the ID token, as most company providers put them there.
  conformIdTokenClaims: false,
  ttl: { IdToken: idTokenTtl },
  async findAccount(ctx, id) {
    const a = accounts[id] || {};
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: a.email, email_verified: a.email_verified, groups: a.groups || [] };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const existing = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (existing) return ctx.oidc.provider.Grant.find(existing);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email groups');
    await grant.save();
    return grant;
  },
});
provider.proxy = false;
provider.on('backchannel.error', (ctx, err, client) => {
  console.error(`back-channel logout to ${client.clientId} failed: ${err.message}`);
});
provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
