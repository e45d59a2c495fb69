"""fake_cognito: a credential-free fake of the AWS Cognito user-pool API.

boto3's ``cognito-idp`` client (``endpoint_url=...``) and PyJWT's ``PyJWKClient``
work against it unchanged.  Run it with ``python -m fakes.fake_cognito``.

Why our own small backend and not moto's cognito-idp: moto signs every pool's
tokens with one RSA key shipped inside moto (``kid: dummy``), shapes pool ids
unlike real ones, and keeps state in memory only (lost on restart).  Making it
deterministic and persistent would mean patching its internals; the subset a
control plane uses is small, so a backend written for exactly that is shorter
and keeps the three properties we need under our control:

* ids and RSA keys derived from ``HIPPODROME_RANDOM_SEED`` (and
  ``HIPPODROME_ENCRYPTION_SECRET`` for keys), so reruns reproduce them;
* state in SQLite (WAL) in ``HIPPODROME_STATE_DIR``, surviving restart and kill -9;
* only bounded in-memory caches (sessions, keys).

Environment (the only configuration)::

    HOST                          127.0.0.1
    PORT                          9012
    AWS_DEFAULT_REGION            us-east-1 (token issuer region)
    HIPPODROME_RANDOM_SEED        random per start when unset (with a warning)
    HIPPODROME_ENCRYPTION_SECRET  1234567890ABCDEF when unset (with a warning)
    HIPPODROME_STATE_DIR          .hippodrome/state (this fake owns fake_cognito* in it)
    HIPPODROME_COGNITO_CONFIG     {"userPools": [{"name", "id", "clients": [{"name", "id"}],
                                    "groups": [{"name", "description"}], "users": [{"username",
                                    "password", "email", "groups", "attributes"}]}]}
    HIPPODROME_ALLOWED_ORIGINS, HIPPODROME_ALLOWED_HOSTS, HIPPODROME_POD_IP
                                  who may call it from a browser (hippodrome_k8s.core.origins): the
                                  stack's origins (its console signs in from its page); loopback only when unset

HTTP: ``POST /`` (AWS JSON 1.1, ``X-Amz-Target: AWSCognitoIdentityProviderService.<Action>``),
``GET /healthz``, ``GET /`` (description, cache sizes), ``GET /openapi.json``,
``GET /local/codes[?userPoolId=&username=]`` (the confirmation codes it would have mailed),
``POST /oauth2/token`` and ``POST /<pool id>/oauth2/token`` (the hosted domain's token endpoint),
``GET /<pool id>/.well-known/jwks.json`` and ``.../openid-configuration``.

Layout (each module says why it exists)::

    cache     BoundedCache, the LRU every in-memory cache uses
    config    env + the declared pools (HIPPODROME_COGNITO_CONFIG), validated
    errors    CognitoError: an AWS error type + message, the only error the backend raises
    params    boundary validation of request fields (errors name the field)
    keys      deterministic RSA keys per pool, cached encrypted in the state dir
    store     SQLite persistence (documents + refresh-token records)
    passwords what is stored for a password (a hash and the SRP verifier), the pool password policy
    srp       the SRP-6a maths of USER_SRP_AUTH (pure; checked against the client libraries)
    clientauth SECRET_HASH and client-secret checks, shared by every flow
    tokens    Cognito-shaped JWT claims, signing and verification
    backend   pools, clients (OAuth settings checked), users, groups, resource-server records: the admin API
    auth      sign-in flows (password, SRP, refresh), challenges, GetUser, sign-out
    selfservice SignUp, ConfirmSignUp, ForgotPassword, ...: codes go to the log and GET /local/codes
    oauth     resource servers and the OAuth2 token endpoint (client_credentials, refresh_token)
    seeding   creates the declared pools/clients/groups/users idempotently
    openapi   the OpenAPI 3 document of the HTTP surface
    server    aiohttp routing, JSON errors everywhere; the shared edge (fakes.common.web): Origin/Host guard,
              JSON bodies within limits, aiohttp's own refusals in JSON
"""
