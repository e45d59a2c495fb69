// Drives fake_cognito with amazon-cognito-identity-js (the library web front ends use) in Node.
// Usage: node flows.js '<json config>'   (NODE_PATH must hold amazon-cognito-identity-js)
// Config: {endpoint, poolId, clientId, scenario, ...}. Prints one JSON object: the outcome of every
// step, tokens included, for the Python test to check (and to verify against the JWKS with PyJWT).
'use strict';

const {
  CognitoUserPool, CognitoUser, AuthenticationDetails, CognitoUserAttribute, CognitoRefreshToken,
} = require('amazon-cognito-identity-js');

const config = JSON.parse(process.argv[2]);
const pool = new CognitoUserPool({ UserPoolId: config.poolId, ClientId: config.clientId, endpoint: config.endpoint });

const failure = (e) => ({ ok: false, code: e.code || e.name, message: e.message });
const tokensOf = (session) => ({
  ok: true,
  idToken: session.getIdToken().getJwtToken(),
  accessToken: session.getAccessToken().getJwtToken(),
  refreshToken: session.getRefreshToken().getToken(),
});

function user(username) {
  return new CognitoUser({ Username: username, Pool: pool });
}

// Sign in with SRP (the library's default flow); a NEW_PASSWORD_REQUIRED challenge is answered with
// newPassword when given.
function signIn(u, password, newPassword) {
  return new Promise((resolve) => {
    const callbacks = {
      onSuccess: (session) => resolve(tokensOf(session)),
      onFailure: (e) => resolve(failure(e)),
      newPasswordRequired: (userAttributes) => {
        if (!newPassword) return resolve({ ok: false, code: 'NEW_PASSWORD_REQUIRED', userAttributes });
        delete userAttributes.email_verified;
        delete userAttributes.email;
        u.completeNewPasswordChallenge(newPassword, userAttributes, callbacks);
        return undefined;
      },
    };
    u.authenticateUser(new AuthenticationDetails({ Username: u.getUsername(), Password: password }), callbacks);
  });
}

const call = (fn) => new Promise((resolve) => {
  fn((err, result) => resolve(err ? failure(err) : { ok: true, result }));
});
const callbacks = (fn) => new Promise((resolve) => {
  fn({
    onSuccess: (result) => resolve({ ok: true, result }),
    onFailure: (e) => resolve(failure(e)),
    inputVerificationCode: (data) => resolve({ ok: true, result: data }),
  });
});

async function latestCode(username, purpose) {
  const url = `${config.endpoint.replace(/\/$/, '')}/local/codes?userPoolId=${config.poolId}&username=${encodeURIComponent(username)}`;
  const { codes } = await (await fetch(url)).json();
  return codes.find((c) => c.purpose === purpose).code;
}

const scenarios = {
  // right password, wrong password, unknown user
  async signIn() {
    return {
      right: await signIn(user(config.username), config.password),
      wrong: await signIn(user(config.username), `${config.password}x`),
      unknown: await signIn(user(`nobody-${Date.now()}`), config.password),
    };
  },

  // an admin-created user with a temporary password: the challenge after SRP, then the new password
  async newPassword() {
    return {
      wrongTemporary: await signIn(user(config.username), 'Not-the-temp1!'),
      challenge: await signIn(user(config.username), config.password),
      completed: await signIn(user(config.username), config.password, config.newPassword),
      again: await signIn(user(config.username), config.newPassword),
      oldRefused: await signIn(user(config.username), config.password),
    };
  },

  // sign-up to sign-out, every step with this library
  async journey() {
    const name = config.username;
    const out = {};
    out.signUp = await call((cb) => pool.signUp(name, 'Passw0rd!', [
      new CognitoUserAttribute({ Name: 'email', Value: `${name}@example.com` })], null, cb));
    if (out.signUp.ok) out.signUp.result = { userConfirmed: out.signUp.result.userConfirmed, userSub: out.signUp.result.userSub };
    out.unconfirmed = await signIn(user(name), 'Passw0rd!');
    out.wrongCode = await call((cb) => user(name).confirmRegistration('000000x', true, cb));
    out.confirm = await call(async (cb) => user(name).confirmRegistration(await latestCode(name, 'SignUp'), true, cb));
    out.wrongPassword = await signIn(user(name), 'Passw0rd?');
    const u = user(name);
    out.signIn = await signIn(u, 'Passw0rd!');
    out.attributes = await call((cb) => u.getUserAttributes(cb));
    if (out.attributes.ok) out.attributes.result = out.attributes.result.map((a) => [a.getName(), a.getValue()]);
    out.refresh = await call((cb) => u.refreshSession(new CognitoRefreshToken({ RefreshToken: out.signIn.refreshToken }), cb));
    if (out.refresh.ok) out.refresh = tokensOf(out.refresh.result);
    out.changeWrong = await call((cb) => u.changePassword('Wrong-passw0rd', 'Changed-1!', cb));
    out.change = await call((cb) => u.changePassword('Passw0rd!', 'Changed-1!', cb));
    out.oldAfterChange = await signIn(user(name), 'Passw0rd!');
    out.forgot = await callbacks((cb) => user(name).forgotPassword(cb));
    out.confirmWrongCode = await callbacks((cb) => user(name).confirmPassword('000000x', 'Reset-passw0rd', cb));
    out.confirmForgot = await callbacks(async (cb) => user(name).confirmPassword(
      await latestCode(name, 'ForgotPassword'), 'Reset-passw0rd', cb));
    out.changedRefused = await signIn(user(name), 'Changed-1!');
    const again = user(name);
    out.afterReset = await signIn(again, 'Reset-passw0rd');
    out.globalSignOut = await callbacks((cb) => again.globalSignOut(cb));
    out.afterSignOut = await call((cb) => again.getUserAttributes(cb));
    const third = user(name);
    out.third = await signIn(third, 'Reset-passw0rd');
    out.revoke = await call((cb) => third.revokeTokens((err) => cb(err, 'revoked')));
    out.refreshAfterRevoke = await call((cb) => third.refreshSession(
      new CognitoRefreshToken({ RefreshToken: out.third.refreshToken }), cb));
    return out;
  },
};

scenarios[config.scenario]().then((out) => {
  process.stdout.write(JSON.stringify(out));
}, (e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
