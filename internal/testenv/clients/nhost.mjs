// Drives @nhost/nhost-js 4.7.0 against passgate's Nhost door (compat nhost), as an
// app would. See README.md for the inputs.

import { createClient, createNhostClient } from '@nhost/nhost-js'
import { generatePKCEPair } from '@nhost/nhost-js/auth'
import { FetchError, sessionRefreshMiddleware, updateSessionFromResponseMiddleware, attachAccessTokenMiddleware } from '@nhost/nhost-js/fetch'
import {
  env, envInt, run, flow, step, check, uniqueEmail, uniquePhone,
  waitForMessage, latestMessage, wrongCode, followMagicLink, queryParams,
  decodeJwt, verifyJwt, recorder, UUID_RE,
} from './lib.mjs'

const ORIGIN = new URL(env('PASSGATE_URL')).origin
const MOUNT = env('PASSGATE_NHOST_MOUNT', '/nhost/v1').replace(/\/+$/, '')
const REDIRECT = env('PASSGATE_REDIRECT_URL', `${ORIGIN}/app/callback`)
const PROTECTED = process.env.PASSGATE_PROTECTED_URL || ''
const DISALLOWED = env('PASSGATE_DISALLOWED_EMAIL', 'pg-nobody@disallowed.example.net')
const AUTH_URL = ORIGIN + MOUNT
const MAX_ATTEMPTS = envInt('PASSGATE_MAX_ATTEMPTS', 5)
const CLAIMS = 'https://hasura.io/jwt/claims'
const rateWaitMs = envInt('PASSGATE_RATE_WAIT_MS', 90000)
const SHORT = process.env.PASSGATE_NHOST_SHORT_TOKENS === '1'

// recording is the innermost chain function, so it sees the headers the session
// middlewares added (Authorization) and the order of calls (pre-request refreshes).
function recordingChain(rec) {
  return () => async (url, options = {}) => rec(url, options)
}

function newClient() {
  const rec = recorder()
  const nhost = createClient({
    authUrl: AUTH_URL,
    storageUrl: AUTH_URL,
    graphqlUrl: AUTH_URL,
    functionsUrl: AUTH_URL,
    configure: [({ auth }) => auth.pushChainFunction(recordingChain(rec))],
  })
  return { nhost, rec }
}

// newEagerClient refreshes before every request: its refresh margin exceeds any
// access-token lifetime, which is what nhost-js does for tokens under 60 s.
function newEagerClient() {
  const rec = recorder()
  const nhost = createNhostClient({
    authUrl: AUTH_URL,
    storageUrl: AUTH_URL,
    graphqlUrl: AUTH_URL,
    functionsUrl: AUTH_URL,
    configure: [
      ({ auth, sessionStorage }) => {
        auth.pushChainFunction(sessionRefreshMiddleware(auth, sessionStorage, { marginSeconds: 365 * 24 * 3600 }))
        auth.pushChainFunction(updateSessionFromResponseMiddleware(sessionStorage))
        auth.pushChainFunction(attachAccessTokenMiddleware(sessionStorage))
        auth.pushChainFunction(recordingChain(rec))
      },
    ],
  })
  return { nhost, rec }
}

async function fails(p) {
  try {
    const r = await p
    return { resolved: true, status: r.status }
  } catch (e) {
    // FetchError (a JSON error body) leaves e.name 'Error'; a non-JSON body throws a SyntaxError.
    return { resolved: false, fetchError: e instanceof FetchError, name: e.name, status: e.status, error: e.body?.error, message: e.message }
  }
}

function expectFetchError(got, { status, error }) {
  check(!got.resolved, { expected: { status, error }, got: 'success' })
  check(got.fetchError, { expected: 'FetchError (a JSON error body)', got })
  check(!status || got.status === status, { expected: { status, error }, got })
  check(!error || got.error === error, { expected: { status, error }, got })
  return { status: got.status, error: got.error }
}

// send runs a sign-in start; a 429 is waited out as Retry-After says.
async function send(fn) {
  const deadline = Date.now() + rateWaitMs
  let waited = 0
  for (;;) {
    try {
      const r = await fn()
      return { r, waited_ms: waited }
    } catch (e) {
      const retry = Number(e.headers?.get?.('retry-after'))
      if (e.status !== 429 || !Number.isFinite(retry) || Date.now() + retry * 1000 > deadline) throw e
      await new Promise((res) => setTimeout(res, retry * 1000 + 50))
      waited += retry * 1000
    }
  }
}

async function signInByEmail(c, email) {
  const before = await latestMessage(email)
  const { r, waited_ms } = await send(() => c.nhost.auth.signInOTPEmail({ email }))
  check(r.body === 'OK', { body: r.body })
  const msg = await waitForMessage(email, 'code', before?.code)
  const v = await c.nhost.auth.verifySignInOTPEmail({ email, otp: msg.code })
  check(v.body?.session?.accessToken, 'no session')
  return { session: v.body.session, waited_ms }
}

function checkSession(s) {
  check(s && typeof s.accessToken === 'string' && typeof s.refreshToken === 'string', 'session lacks tokens')
  check(typeof s.accessTokenExpiresIn === 'number' && s.accessTokenExpiresIn > 0, { accessTokenExpiresIn: s.accessTokenExpiresIn })
  check(typeof s.refreshTokenId === 'string' && s.refreshTokenId !== '', 'refreshTokenId missing')
  check(s.user && typeof s.user.id === 'string', 'session.user.id missing')
}

function checkUser(u) {
  const problems = []
  for (const k of ['id', 'createdAt', 'defaultRole', 'displayName', 'locale', 'avatarUrl']) if (typeof u[k] !== 'string') problems.push(`${k} not a string`)
  for (const k of ['emailVerified', 'phoneNumberVerified', 'isAnonymous']) if (typeof u[k] !== 'boolean') problems.push(`${k} not a boolean`)
  if (!Array.isArray(u.roles)) problems.push('roles not an array')
  if (typeof u.metadata !== 'object' || u.metadata === null) problems.push('metadata not an object')
  check(problems.length === 0, { problems })
}

// shortTokens is the run against a gateway whose access tokens live under
// nhost-js's 60 s refresh margin (PASSGATE_NHOST_SHORT_TOKENS=1): the
// default client then refreshes before every call, through POST …/v1/token,
// which must not recurse. The other flows assert the calls of long-lived
// tokens, so this run checks only this.
async function shortTokens() {
  await flow('short tokens', async () => {
    const c = newClient()
    const email = uniqueEmail('nh-short')
    let session
    await step('nhost(short): sign in; the access token lives under the 60 s margin', async () => {
      session = (await signInByEmail(c, email)).session
      const d = c.nhost.getUserSession().decodedToken
      const lifetime = (d.exp - d.iat) / 1000
      check(lifetime <= 60, { token_lifetime_s: lifetime, note: 'configure the gateway with a short jwt access_ttl' })
      return { token_lifetime_s: lifetime }
    })
    await step('nhost(short): the default client calls POST …/v1/token before each call, once', async () => {
      const tokens = new Set([session.refreshToken])
      const mark = c.rec.mark()
      for (let i = 0; i < 2; i++) {
        const u = await c.nhost.auth.getUser()
        check(u.body.email === email, 'user email differs')
        tokens.add(c.nhost.getUserSession().refreshToken)
      }
      const calls = c.rec.since(mark).map((e) => `${e.method} ${e.path.slice(MOUNT.length)} ${e.status}`)
      const want = ['POST /token 200', 'GET /user 200', 'POST /token 200', 'GET /user 200']
      check(JSON.stringify(calls) === JSON.stringify(want), { calls, want })
      check(tokens.size === 3, { distinct_refresh_tokens: tokens.size })
      return { calls }
    })
    await step('nhost(short): signOut with the token its own refresh just spent still ends the session', async () => {
      // The app reads the refresh token, then the pre-request refresh
      // rotates it: POST /signout carries the spent one.
      const rt = c.nhost.getUserSession().refreshToken
      const mark = c.rec.mark()
      const r = await c.nhost.auth.signOut({ refreshToken: rt })
      check(r.body === 'OK', { body: r.body })
      const calls = c.rec.since(mark).map((e) => `${e.method} ${e.path.slice(MOUNT.length)} ${e.status}`)
      check(JSON.stringify(calls) === JSON.stringify(['POST /token 200', 'POST /signout 200']), { calls })
      check(c.nhost.getUserSession() === null, 'session not cleared')
      const got = await fails(newClient().nhost.auth.refreshToken({ refreshToken: rt }))
      expectFetchError(got, { status: 401, error: 'invalid-refresh-token' })
      return { calls }
    })
  })
}

async function main() {
  let jwks

  let mountOK = false
  await flow('mount', async () => {
    await step('nhost: mount ends in /v1 (nhost-js skips its pre-request refresh only for …/v1/token)', () => {
      check(MOUNT.endsWith('/v1'), { mount: MOUNT, note: 'any pre-request refresh would recurse until the heap is exhausted; no client call is made' })
      mountOK = true
      return { mount: MOUNT }
    })
  })
  // The recursion is a promise chain that starves timers, so the script deadline
  // could not stop it: with a wrong mount, nothing else runs.
  if (!mountOK) return

  await flow('setup', async () => {
    await step('nhost: auth.getJWKs() and healthCheckGet()', async () => {
      const { nhost } = newClient()
      const j = await nhost.auth.getJWKs()
      check(Array.isArray(j.body.keys) && j.body.keys.length > 0, { keys: j.body.keys?.length ?? 'none' })
      check(j.body.keys.every((k) => k.d === undefined), 'JWKS publishes a private key component')
      jwks = j.body
      const h = await nhost.auth.healthCheckGet()
      check(h.status === 200, { health: h.status })
      return { keys: j.body.keys.map((k) => ({ kty: k.kty, alg: k.alg, kid: !!k.kid })) }
    })
  })

  if (SHORT) {
    await shortTokens()
    return
  }

  await flow('email code', async () => {
    const c = newClient()
    const email = uniqueEmail('nh-otp')
    let code, session, firstRefresh
    await step('nhost: signInOTPEmail -> 200 "OK" (a JSON string)', async () => {
      const { r } = await send(() => c.nhost.auth.signInOTPEmail({ email }))
      check(r.status === 200 && r.body === 'OK', { status: r.status, body: typeof r.body })
      code = (await waitForMessage(email, 'code')).code
      return { code_length: code.length }
    })
    await step('nhost: wrong code -> FetchError 400 invalid-otp, no session stored', async () => {
      const got = await fails(c.nhost.auth.verifySignInOTPEmail({ email, otp: wrongCode(code) }))
      const out = expectFetchError(got, { status: 400, error: 'invalid-otp' })
      check(c.nhost.getUserSession() === null, 'a session was stored')
      return out
    })
    await step('nhost: verifySignInOTPEmail -> {session}, stored by the middleware', async () => {
      const v = await c.nhost.auth.verifySignInOTPEmail({ email, otp: code })
      session = v.body.session
      checkSession(session)
      const stored = c.nhost.getUserSession()
      check(stored && stored.accessToken === session.accessToken, 'session not stored')
      check(stored.decodedToken.exp > Date.now(), { exp_in_future: false })
      firstRefresh = session.refreshToken
      const lifetime = (stored.decodedToken.exp - stored.decodedToken.iat) / 1000
      check(lifetime > 2 * 60, { token_lifetime_s: lifetime, note: 'nhost-js refreshes 60 s before exp: tokens must live well over that' })
      return { accessTokenExpiresIn: session.accessTokenExpiresIn }
    })
    await step('nhost: the stored session fits in one cookie (CookieStorage)', () => {
      // CookieStorage keeps the session with its decoded token, JSON and
      // URI-encoded, in one cookie; browsers drop cookies over 4096 bytes.
      const size = encodeURIComponent(JSON.stringify(c.nhost.getUserSession())).length
      check(size < 3800, { cookie_value_bytes: size })
      return { cookie_value_bytes: size }
    })
    await step('nhost: Hasura claims parse to an array; sub = x-hasura-user-id', () => {
      const d = c.nhost.getUserSession().decodedToken
      const h = d[CLAIMS]
      check(h && Array.isArray(h['x-hasura-allowed-roles']), { claims_namespace: !!h })
      check(h['x-hasura-allowed-roles'].includes(h['x-hasura-default-role']), 'default role not in allowed roles')
      check(h['x-hasura-user-id'] === d.sub && UUID_RE.test(d.sub), 'x-hasura-user-id differs from sub or is not a UUID')
      check(h['x-hasura-user-is-anonymous'] === 'false', { anonymous: h['x-hasura-user-is-anonymous'] })
      check(typeof d.iat === 'number' && typeof d.exp === 'number', 'iat/exp missing')
      return { allowed_roles: h['x-hasura-allowed-roles'], default_role: h['x-hasura-default-role'] }
    })
    await step('nhost: raw x-hasura-allowed-roles is a JSON array (Hasura rejects a string)', () => {
      const raw = decodeJwt(session.accessToken).payload[CLAIMS]['x-hasura-allowed-roles']
      check(Array.isArray(raw), { raw_type: typeof raw })
      return { raw: 'array' }
    })
    await step('nhost: access token verifies against the door JWKS', async () => {
      const v = await verifyJwt(session.accessToken, jwks)
      check(v.ok, v)
      return { alg: decodeJwt(session.accessToken).header.alg }
    })
    await step('nhost: getUser -> bare User with Nhost fields, id = sub', async () => {
      const mark = c.rec.mark()
      const u = await c.nhost.auth.getUser()
      checkUser(u.body)
      check(u.body.id === decodeJwt(session.accessToken).payload.sub, 'id differs from sub')
      check(u.body.email === email && u.body.emailVerified === true, { email_matches: u.body.email === email, emailVerified: u.body.emailVerified })
      const call = c.rec.since(mark).find((e) => e.path.endsWith('/user'))
      check(call.headers.authorization === `Bearer ${session.accessToken}`, 'no Bearer on GET /user')
      return { roles: u.body.roles }
    })
    if (PROTECTED) {
      await step('nhost: the access token reaches a protected upstream route', async () => {
        const res = await fetch(PROTECTED, { headers: { Authorization: `Bearer ${session.accessToken}` } })
        check(res.status >= 200 && res.status < 300, { status: res.status })
        return { status: res.status }
      })
    }
    await step('nhost: refreshSession(0) -> POST /token answers the bare session, rotated', async () => {
      const mark = c.rec.mark()
      const s = await c.nhost.refreshSession(0)
      check(s && s.refreshToken !== firstRefresh, 'refresh token not rotated (refreshSession swallows errors: see the /token call)')
      const call = c.rec.since(mark).find((e) => e.path.endsWith('/token'))
      check(call && call.status === 200, { token_status: call?.status ?? 'not sent' })
      check(JSON.parse(call.body).refreshToken === firstRefresh, 'body.refreshToken not sent')
      checkSession(s)
      session = s
      return { rotated: true }
    })
    await step('nhost: signOut({refreshToken}) -> "OK", session cleared, token dead', async () => {
      const rt = c.nhost.getUserSession()?.refreshToken
      check(rt, 'no session to sign out')
      const r = await c.nhost.auth.signOut({ refreshToken: rt })
      check(r.body === 'OK', { body: r.body })
      check(c.nhost.getUserSession() === null, 'session not cleared')
      const other = newClient()
      const got = await fails(other.nhost.auth.refreshToken({ refreshToken: rt }))
      return expectFetchError(got, { status: 401 })
    })
  })

  await flow('refresh token reuse', async () => {
    const c = newClient()
    let first
    await step('nhost: sign in and rotate twice', async () => {
      first = (await signInByEmail(c, uniqueEmail('nh-reuse'))).session.refreshToken
      const seen = new Set([first])
      for (let i = 0; i < 2; i++) {
        const s = await c.nhost.refreshSession(0)
        check(s && !seen.has(s.refreshToken), 'refresh token not rotated')
        seen.add(s.refreshToken)
      }
    })
    await step('nhost: the first refresh token again -> FetchError 401 invalid-refresh-token', async () => {
      const other = newClient()
      const got = await fails(other.nhost.auth.refreshToken({ refreshToken: first }))
      const out = expectFetchError(got, { status: 401, error: 'invalid-refresh-token' })
      const current = await fails(newClient().nhost.auth.refreshToken({ refreshToken: c.nhost.getUserSession().refreshToken }))
      return { ...out, current_token_after_reuse: current.resolved ? 'still works' : `refused ${current.status}` }
    })
  })

  await flow('sms code', async () => {
    const c = newClient()
    const phone = uniquePhone()
    let code
    await step('nhost: signInPasswordlessSms -> "OK"', async () => {
      const { r } = await send(() => c.nhost.auth.signInPasswordlessSms({ phoneNumber: phone }))
      check(r.body === 'OK', { body: r.body })
      code = (await waitForMessage(phone, 'code')).code
    })
    await step('nhost: wrong SMS code -> FetchError 400', async () => {
      const got = await fails(c.nhost.auth.verifySignInPasswordlessSms({ phoneNumber: phone, otp: wrongCode(code) }))
      return expectFetchError(got, { status: 400 })
    })
    await step('nhost: verifySignInPasswordlessSms -> {session}; user has the phone', async () => {
      const v = await c.nhost.auth.verifySignInPasswordlessSms({ phoneNumber: phone, otp: code })
      checkSession(v.body.session)
      check(c.nhost.getUserSession(), 'session not stored')
      const u = await c.nhost.auth.getUser()
      check(u.body.phoneNumber === phone && u.body.phoneNumberVerified === true, { phone_matches: u.body.phoneNumber === phone })
      return { mfa: v.body.mfa === undefined ? 'absent' : v.body.mfa }
    })
  })

  await flow('magic link', async () => {
    const c = newClient()
    const email = uniqueEmail('nh-link')
    let link, location
    await step('nhost: signInPasswordlessEmail({options:{redirectTo}}) -> "OK", link mailed', async () => {
      const { r } = await send(() => c.nhost.auth.signInPasswordlessEmail({ email, options: { redirectTo: REDIRECT } }))
      check(r.body === 'OK', { body: r.body })
      link = (await waitForMessage(email, 'link')).link
      check(new URL(link).origin === ORIGIN, 'link not on the gateway')
      return { link_path: new URL(link).pathname }
    })
    await step('nhost: opening the link -> redirect to redirectTo?refreshToken=…&type=passwordlessEmail', async () => {
      const r = await followMagicLink(link, { stopAt: REDIRECT })
      check(!r.consumedByGet, { scanner_safe: false, note: 'a bare GET of the emailed link answered a redirect carrying credentials' })
      check(r.location && r.location.startsWith(REDIRECT), { status: r.status, via: r.via, to_redirect: !!r.location && r.location.startsWith(REDIRECT) })
      const q = queryParams(r.location)
      check(q.refreshToken && q.type === 'passwordlessEmail', { query_keys: Object.keys(q), type: q.type })
      location = r.location
      return { status: r.status, via: r.via }
    })
    await step('nhost: auth.refreshToken({refreshToken}) -> session stored by the middleware', async () => {
      const q = queryParams(location)
      const r = await c.nhost.auth.refreshToken({ refreshToken: q.refreshToken })
      checkSession(r.body)
      check(c.nhost.getUserSession()?.accessToken === r.body.accessToken, 'session not stored')
      const u = await c.nhost.auth.getUser()
      check(u.body.email === email, 'user email differs')
      return { signed_in: true }
    })
    await step('nhost: the same link again gives no refresh token', async () => {
      const r = await followMagicLink(link, { gets: 1, stopAt: REDIRECT })
      const q = r.location ? queryParams(r.location) : {}
      check(!q.refreshToken, 'the link worked twice')
      return { status: r.status, error: q.error ?? null }
    })
  })

  await flow('magic link, PKCE', async () => {
    const c = newClient()
    const email = uniqueEmail('nh-pkce')
    const pair = await generatePKCEPair()
    let link, code
    await step('nhost(pkce): signInPasswordlessEmail({codeChallenge}) -> link mailed', async () => {
      const { r } = await send(() => c.nhost.auth.signInPasswordlessEmail({ email, options: { redirectTo: REDIRECT }, codeChallenge: pair.challenge }))
      check(r.body === 'OK', { body: r.body })
      link = (await waitForMessage(email, 'link')).link
    })
    await step('nhost(pkce): opening the link -> redirectTo?code=… (no refreshToken)', async () => {
      const r = await followMagicLink(link, { stopAt: REDIRECT })
      check(!r.consumedByGet, { scanner_safe: false, note: 'a bare GET of the emailed link answered a redirect carrying credentials' })
      check(r.location && r.location.startsWith(REDIRECT), { status: r.status, via: r.via })
      const q = queryParams(r.location)
      check(q.code && !q.refreshToken, { query_keys: Object.keys(q) })
      code = q.code
      return { status: r.status, via: r.via }
    })
    await step('nhost(pkce): tokenExchange({code, codeVerifier}) -> {session}, stored', async () => {
      const r = await c.nhost.auth.tokenExchange({ code, codeVerifier: pair.verifier })
      checkSession(r.body.session)
      check(c.nhost.getUserSession()?.accessToken === r.body.session.accessToken, 'session not stored')
      return { signed_in: true }
    })
    await step('nhost(pkce): the code cannot be exchanged twice', async () => {
      const other = newClient()
      const got = await fails(other.nhost.auth.tokenExchange({ code, codeVerifier: pair.verifier }))
      return expectFetchError(got, {})
    })
  })

  await flow('pre-request refresh', async () => {
    const c = newEagerClient()
    const email = uniqueEmail('nh-eager')
    await step('nhost: with every token inside the refresh margin, each call is preceded by POST …/v1/token', async () => {
      await signInByEmail(c, email)
      const tokens = new Set([c.nhost.getUserSession().refreshToken])
      const mark = c.rec.mark()
      for (let i = 0; i < 2; i++) {
        const u = await c.nhost.auth.getUser()
        check(u.body.email === email, 'user email differs')
        tokens.add(c.nhost.getUserSession().refreshToken)
      }
      const calls = c.rec.since(mark).map((e) => `${e.method} ${e.path.slice(MOUNT.length)} ${e.status}`)
      const want = ['POST /token 200', 'GET /user 200', 'POST /token 200', 'GET /user 200']
      check(JSON.stringify(calls) === JSON.stringify(want), { calls, want })
      check(tokens.size === 3, { distinct_refresh_tokens: tokens.size })
      const last = c.rec.since(mark).pop()
      check(last.headers.authorization === `Bearer ${c.nhost.getUserSession().accessToken}`, 'GET /user not sent with the newest access token')
      return { calls }
    })
  })

  await flow('attempts burn', async () => {
    const c = newClient()
    const email = uniqueEmail('nh-burn')
    await step(`nhost: ${MAX_ATTEMPTS} wrong codes burn the attempt; the right code then fails`, async () => {
      await send(() => c.nhost.auth.signInOTPEmail({ email }))
      const code = (await waitForMessage(email, 'code')).code
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        const got = await fails(c.nhost.auth.verifySignInOTPEmail({ email, otp: wrongCode(code) }))
        check(!got.resolved, 'a wrong code was accepted')
      }
      const got = await fails(c.nhost.auth.verifySignInOTPEmail({ email, otp: code }))
      return expectFetchError(got, { status: 400 })
    })
  })

  await flow('no enumeration', async () => {
    await step('nhost: a disallowed address gets "OK" like any other', async () => {
      const { nhost } = newClient()
      const r = await nhost.auth.signInOTPEmail({ email: DISALLOWED })
      check(r.status === 200 && r.body === 'OK', { status: r.status })
      // Another refused address: the limits count a refused address as any
      // other (or a 429 would tell it apart), so a second start to the same
      // one would be 429 within the resend cooldown.
      const other = DISALLOWED.replace('@', '+link@')
      const l = await nhost.auth.signInPasswordlessEmail({ email: other, options: { redirectTo: REDIRECT } })
      check(l.status === 200 && l.body === 'OK', { status: l.status })
    })
  })

  await flow('sign out everywhere', async () => {
    const email = uniqueEmail('nh-all')
    const a = newClient()
    const b = newClient()
    await step('nhost: two sessions for one user', async () => {
      const s1 = await signInByEmail(a, email)
      const s2 = await signInByEmail(b, email)
      check(s1.session.user.id === s2.session.user.id, 'different users for one address')
      return { waited_ms: s1.waited_ms + s2.waited_ms }
    })
    await step('nhost: signOut({all:true}) (Bearer) ends the other session too', async () => {
      const mark = a.rec.mark()
      const r = await a.nhost.auth.signOut({ all: true })
      check(r.body === 'OK', { body: r.body })
      const call = a.rec.since(mark).find((e) => e.path.endsWith('/signout'))
      check(/^Bearer /.test(call.headers.authorization || ''), 'signOut({all}) sent without Bearer')
      check(a.nhost.getUserSession() === null, 'session not cleared')
      const got = await fails(b.nhost.auth.refreshToken({ refreshToken: b.nhost.getUserSession().refreshToken }))
      return expectFetchError(got, { status: 401 })
    })
  })
}

run(main)
