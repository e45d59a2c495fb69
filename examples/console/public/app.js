// The console page. Sign-in: amazon-cognito-identity-js (global AmazonCognitoIdentity, served from
// /vendor), SRP against the user pool from /api/config, exactly as a React console would; the id
// token then goes to /api/indexes as a Bearer token. Or an API key, without signing in.
// Rendering uses textContent only.
'use strict';

const $ = (id) => document.getElementById(id);
const statusLine = $('status');
const table = $('indexes');
let pool = null;
let user = null; // the signed-in CognitoUser
let session = null; // its CognitoUserSession
let challengeUser = null; // a CognitoUser waiting for its new password (NEW_PASSWORD_REQUIRED)

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text == null ? '' : String(text);
  return td;
}

function show(line, text, isError) {
  line.className = isError ? 'error' : 'muted';
  line.textContent = text;
}

// The current session, refreshed by the library when its tokens have expired.
function currentSession() {
  return new Promise((resolve) => {
    if (!user) return resolve(null);
    user.getSession((err, s) => resolve(err || !s || !s.isValid() ? null : s));
  });
}

async function load() {
  show(statusLine, 'Loading…');
  let headers = {};
  if (user) {
    session = await currentSession();
    if (!session) return signedOut('Your session has ended: sign in again.');
    headers = { Authorization: `Bearer ${session.getIdToken().getJwtToken()}` };
  } else if ($('api-key').value) {
    headers = { 'x-api-key': $('api-key').value };
  }
  try {
    const response = await fetch('/api/indexes', { headers });
    const body = await response.json();
    if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
    const rows = body.results || [];
    table.querySelector('tbody').replaceChildren(...rows.map((ix) => {
      const tr = document.createElement('tr');
      tr.append(cell(ix.indexName), cell(ix.indexStatus), cell(ix.marqoEndpoint), cell(ix.Created));
      return tr;
    }));
    table.hidden = rows.length === 0;
    show(statusLine, rows.length ? `${rows.length} index(es)` : 'No indexes yet.');
  } catch (e) {
    table.hidden = true;
    show(statusLine, `Could not list indexes: ${e.message}`, true);
  }
}

function signedIn(cognitoUser, s) {
  user = cognitoUser;
  session = s;
  challengeUser = null;
  $('new-password').hidden = true;
  $('new-password').required = false;
  $('signin-button').disabled = false;
  const claims = s.getIdToken().decodePayload();
  $('who').textContent = `Signed in as ${claims.email || claims['cognito:username']}`;
  $('signin').hidden = true;
  $('key-section').hidden = true;
  $('session').hidden = false;
  show($('signin-status'), '');
  load();
}

function signedOut(message) {
  user = null;
  session = null;
  $('session').hidden = true;
  $('signin').hidden = !pool;
  $('key-section').hidden = false;
  $('password').value = '';
  table.hidden = true;
  show(statusLine, message || '');
}

function callbacksFor(cognitoUser) {
  return {
    onSuccess: (s) => signedIn(cognitoUser, s),
    onFailure: (e) => {
      show($('signin-status'), e.message || String(e), true);
      $('signin-button').disabled = false;
    },
    newPasswordRequired: () => {
      challengeUser = cognitoUser;
      $('new-password').hidden = false;
      $('new-password').required = true;
      $('signin-button').disabled = false;
      show($('signin-status'), 'Choose a new password to finish signing in.');
    },
  };
}

function signIn(event) {
  event.preventDefault();
  $('signin-button').disabled = true;
  show($('signin-status'), 'Signing in…');
  if (challengeUser) {
    challengeUser.completeNewPasswordChallenge($('new-password').value, {}, callbacksFor(challengeUser));
    return;
  }
  const email = $('email').value.trim();
  const cognitoUser = new AmazonCognitoIdentity.CognitoUser({ Username: email, Pool: pool });
  cognitoUser.authenticateUser(new AmazonCognitoIdentity.AuthenticationDetails({
    Username: email, Password: $('password').value,
  }), callbacksFor(cognitoUser));
}

$('signin-form').addEventListener('submit', signIn);
$('key-form').addEventListener('submit', (event) => { event.preventDefault(); load(); });
$('signout').addEventListener('click', () => {
  const leaving = user;
  signedOut('Signed out.');
  // with a callback, signOut revokes the refresh token (RevokeToken) before it clears the stored tokens
  if (leaving) leaving.signOut((err) => { if (err) show(statusLine, `Signed out here, but: ${err.message}`, true); });
});

fetch('/api/config').then((r) => r.json()).then(async (config) => {
  if (config.cognito && !window.AmazonCognitoIdentity) {
    $('signin').hidden = false;
    $('signin-form').hidden = true;
    show($('signin-status'), 'Sign-in is unavailable: the console could not serve amazon-cognito-identity-js '
      + '(run `npm ci` in examples/console). An API key still works.', true);
  }
  if (config.cognito && window.AmazonCognitoIdentity) {
    pool = new AmazonCognitoIdentity.CognitoUserPool({
      UserPoolId: config.cognito.userPoolId, ClientId: config.cognito.clientId,
      endpoint: config.cognito.endpoint || undefined,
    });
    $('signin').hidden = false;
    const remembered = pool.getCurrentUser(); // tokens kept in localStorage by the library
    if (remembered) {
      user = remembered;
      const s = await currentSession();
      if (s) return signedIn(remembered, s);
      user = null;
    }
  }
  if (config.hasDefaultKey) load();
  return undefined;
}).catch((e) => show(statusLine, `Could not read the console's config: ${e.message}`, true));
