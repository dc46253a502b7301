// Calls passgate's Wacht door (compat wacht) exactly as the unpublished Wacht React
// client (@wacht/jsx) does: multipart FormData bodies, parameters in the query,
// credentials carried by the __session cookie; then checks the session token with
// the real @wacht/backend. Also the documented JSON and urlencoded variants.
// See README.md for the inputs.

import { getAuthFromToken, exchangeSessionForAuthToken, parseFrontendApiUrlFromPublishableKey } from '@wacht/backend'
import {
  env, envInt, run, flow, step, check, uniqueEmail, uniquePhone,
  waitForMessage, wrongCode, followMagicLink, queryParams, decodeJwt, CookieJar,
} from './lib.mjs'

const ORIGIN = new URL(env('PASSGATE_URL')).origin
const API = env('PASSGATE_WACHT_URL', ORIGIN + env('PASSGATE_WACHT_MOUNT', '/wacht')).replace(/\/+$/, '')
const APP_ORIGIN = env('PASSGATE_APP_ORIGIN', new URL(API).origin)
const REDIRECT = env('PASSGATE_REDIRECT_URL', `${APP_ORIGIN}/app/callback`)
const DISALLOWED = env('PASSGATE_DISALLOWED_EMAIL', 'pg-nobody@disallowed.example.net')
const PROTECTED = process.env.PASSGATE_PROTECTED_URL || ''
const MAX_ATTEMPTS = envInt('PASSGATE_MAX_ATTEMPTS', 5)
// The publishable key is how both clients learn the Frontend API URL:
// pk_live_<standard base64 of the URL>; "live" means production (cookie) mode.
const PK = 'pk_live_' + Buffer.from(API).toString('base64')
const crossOrigin = APP_ORIGIN !== new URL(API).origin
const corsProblems = []

// Browser is one browser profile: its cookie jar, and the client's fetch wrapper
// (use-client.ts): URL = backend_host + path, credentials "include".
class Browser {
  constructor() {
    this.jar = new CookieJar()
  }
  async call(path, { method = 'GET', body, headers = {} } = {}) {
    const url = new URL(`${API}${path}`)
    const h = new Headers(headers)
    const cookie = this.jar.header()
    if (cookie) h.set('Cookie', cookie)
    if (method !== 'GET' || crossOrigin) h.set('Origin', APP_ORIGIN)
    const res = await fetch(url, { method, body, headers: h, redirect: 'manual' })
    this.jar.store(res)
    if (crossOrigin) {
      const acao = res.headers.get('access-control-allow-origin')
      const acac = res.headers.get('access-control-allow-credentials')
      if (acao !== APP_ORIGIN || acac !== 'true') corsProblems.push({ path: url.pathname, acao, acac })
    }
    const text = await res.text()
    let json = null
    try {
      json = JSON.parse(text)
    } catch {}
    return { status: res.status, ok: res.ok, json, headers: res.headers }
  }
}

// mapped reads an answer the way response-mapper.ts does.
function mapped(r) {
  if (!r.ok) {
    const j = r.json || {}
    const first = Array.isArray(j.errors) && j.errors.length > 0 ? j.errors[0] : null
    return { error: { status: r.status, message: first?.message || j.message || `HTTP ${r.status}`, code: first?.code } }
  }
  return { data: r.json?.data }
}

function envelope(r) {
  const j = r.json
  check(j && typeof j === 'object', { status: r.status, body: 'not JSON' })
  check(j.status === r.status, { envelope_status: j.status, http_status: r.status })
  check(typeof j.message === 'string', 'envelope.message missing')
  check('data' in j && 'errors' in j, { keys: Object.keys(j) })
  return j
}

function expectError(r, label) {
  check(!r.ok, { [label]: 'succeeded', status: r.status })
  const j = envelope(r)
  const m = mapped(r)
  check(Array.isArray(j.errors) && j.errors.length > 0 && typeof j.errors[0].code === 'string' && typeof j.errors[0].message === 'string', { errors: j.errors })
  return { status: r.status, code: m.error.code, message_from: 'errors[0].message' }
}

// browserCookies are the cookies other than __session the door set: its record of the
// browser's Wacht session.
function browserCookies(b) {
  return [...b.jar.attributes.entries()].filter(([n]) => n !== '__session' && b.jar.values.has(n))
}

// checkCookieAttributes checks what the __session cookie (and the browser-session one)
// needs: HttpOnly, Secure on https, SameSite=None with Secure for an app on another
// site, and for __session Path=/ so that the app's protected routes receive it.
function checkCookieAttributes(at, { pathRoot }) {
  check(at.httponly === true, { httponly: false })
  if (pathRoot) check(at.path === '/', { path: at.path ?? 'unset', note: 'protected routes outside the door need Path=/' })
  if (API.startsWith('https:')) check(at.secure === true, { secure: false })
  if (crossOrigin) check(String(at.samesite).toLowerCase() === 'none' && at.secure === true, { samesite: at.samesite ?? null, secure: !!at.secure })
  return { httponly: true, secure: !!at.secure, samesite: at.samesite ?? null, path: at.path ?? null }
}

function form(fields) {
  const f = new FormData()
  for (const [k, v] of Object.entries(fields)) f.append(k, v)
  return f
}

function lastAttempt(data, kind = 'signin_attempts') {
  const list = data?.[kind]
  check(Array.isArray(list) && list.length > 0, { [kind]: list === undefined ? 'absent' : list.length })
  return list.at(-1)
}

function checkAttempt(a, step, method) {
  check(typeof a.id === 'string' && a.id !== '' && /^[A-Za-z0-9_-]+$/.test(a.id), { id_type: typeof a.id, url_safe: /^[A-Za-z0-9_-]+$/.test(String(a.id)) })
  check(a.current_step === step, { current_step: a.current_step, want: step })
  if (method) check(a.method === method, { method: a.method, want: method })
  check(a.completed === false, { completed: a.completed })
}

// startSignIn is createStrategy(strategy)({email|phone}) from use-signin.ts.
async function startSignIn(b, strategy, fields) {
  const r = await b.call('/auth/signin', { method: 'POST', body: form({ strategy, ...fields }) })
  envelope(r)
  check(r.ok, { status: r.status, error: mapped(r).error })
  return r.json.data
}

// prepare is signIn.prepareVerification(params): query parameters, empty form.
async function prepare(b, attemptId, strategy, extra = {}, type = 'signin') {
  const q = new URLSearchParams({ attempt_identifier: String(attemptId), strategy, identifier_type: type, ...extra })
  const r = await b.call(`/auth/prepare-verification?${q}`, { method: 'POST', body: new FormData() })
  envelope(r)
  check(r.ok, { status: r.status, error: mapped(r).error })
  return r
}

// complete is signIn.completeVerification(code) (string-built query, as the client does).
function complete(b, attemptId, code, type = 'signin') {
  return b.call(`/auth/attempt-verification?attempt_identifier=${attemptId}&identifier_type=${type}`, {
    method: 'POST',
    body: form({ verification_code: code }),
  })
}

function checkSignedIn(data, attemptId) {
  const a = data.signin_attempts?.find((x) => x.id === attemptId) ?? data.signin_attempts?.at(-1)
  check(a && a.completed === true, { attempt_completed: a ? a.completed : 'no signin_attempts' })
  check(data.active_signin && typeof data.active_signin.id === 'string', 'active_signin missing')
  const user = data.active_signin.user
  check(user && typeof user.id === 'string', 'active_signin.user missing')
  check(Array.isArray(data.signins) && data.signins.some((s) => s.id === data.active_signin.id), 'active sign-in not among signins')
  return user
}

async function signOut(b) {
  const r = await b.call('/session/sign-out', { method: 'POST' })
  envelope(r)
  check(r.ok && r.json.data && r.json.data.active_signin == null, { status: r.status })
  const s = await b.call('/session')
  check(s.ok && s.json.data.active_signin == null, { session_after: s.status })
}

async function main() {
  await flow('boot', async () => {
    await step('wacht: publishable key -> API URL (react: split("_") + atob; backend: URL origin)', () => {
      const [, mode, b64] = PK.split('_')
      check(mode === 'live' && Buffer.from(b64, 'base64').toString() === API, 'react-style parse differs')
      const origin = parseFrontendApiUrlFromPublishableKey(PK)
      return { api: new URL(API).pathname, backend_origin_is_api: origin === API }
    })
    await step('wacht: GET /deployment -> envelope, mode production, auth factors', async () => {
      const b = new Browser()
      const r = await b.call('/deployment')
      check(r.ok, { status: r.status })
      const j = envelope(r)
      check(j.data.mode === 'production', { mode: j.data.mode })
      const f = j.data.auth_settings?.auth_factors_enabled
      check(f && ['email_otp', 'phone_otp', 'email_magic_link'].every((k) => typeof f[k] === 'boolean'), { auth_factors_enabled: f ?? 'absent' })
      return { factors: f, first_factor: j.data.auth_settings.first_factor }
    })
    await step('wacht: GET /session signed out -> 200 Session without active_signin; a browser-session cookie, no __session', async () => {
      const b = new Browser()
      const r = await b.call('/session')
      check(r.ok, { status: r.status, note: 'useSession stays loading unless GET /session succeeds' })
      envelope(r)
      check(typeof r.json.data.id === 'string' && r.json.data.active_signin == null, { id: typeof r.json.data.id })
      // passgate keeps the Wacht browser session (id, attempts) in a cookie of its own;
      // __session is set by a sign-in only, since it is the passgate session the gate reads.
      check(!b.jar.values.has('__session'), '__session set without a sign-in')
      const state = browserCookies(b)
      check(state.length > 0, 'no browser-session cookie set')
      return checkCookieAttributes(state[0][1], { pathRoot: false })
    })
  })

  await flow('email code', async () => {
    const b = new Browser()
    const email = uniqueEmail('wa-otp')
    let attempt, code, user, token
    await step('wacht: POST /auth/signin (FormData strategy=email_otp) -> attempt at verify_email_otp', async () => {
      const data = await startSignIn(b, 'email_otp', { email })
      attempt = lastAttempt(data)
      checkAttempt(attempt, 'verify_email_otp', 'email_otp')
      check(browserCookies(b).length > 0, 'no browser-session cookie after sign-in start')
      return { attempts: data.signin_attempts.length }
    })
    await step('wacht: POST /auth/prepare-verification?attempt_identifier&strategy=email_otp&identifier_type=signin', async () => {
      await prepare(b, attempt.id, 'email_otp')
      code = (await waitForMessage(email, 'code')).code
      return { code_length: code.length }
    })
    await step('wacht: wrong code -> error envelope with errors[0].code', async () => expectError(await complete(b, attempt.id, wrongCode(code)), 'wrong code'))
    await step('wacht: POST /auth/attempt-verification (FormData verification_code) -> signed in', async () => {
      const r = await complete(b, attempt.id, code)
      check(r.ok, { status: r.status, error: mapped(r).error })
      envelope(r)
      check(mapped(r).data?.signin_attempts?.length > 0, 'the client throws "Verification failed" without signin_attempts')
      user = checkSignedIn(r.json.data, attempt.id)
      const at = b.jar.attributes.get('__session')
      check(at && b.jar.values.has('__session'), 'no __session cookie set by the sign-in')
      return { signins: r.json.data.signins.length, __session: checkCookieAttributes(at, { pathRoot: true }) }
    })
    await step('wacht: the same code again -> error', async () => expectError(await complete(b, attempt.id, code), 'reused code'))
    await step('wacht: GET /session -> active_signin for the user', async () => {
      const r = await b.call('/session')
      check(r.ok && r.json.data.active_signin?.user_id === user.id, { status: r.status, user_matches: r.json?.data?.active_signin?.user_id === user.id })
    })
    await step('wacht: GET /me -> the current user', async () => {
      const r = await b.call('/me')
      check(r.ok, { status: r.status })
      envelope(r)
      check(r.json.data.id === user.id, 'id differs')
      check(r.json.data.primary_email_address?.email === email, 'primary_email_address.email differs')
      return { keys: Object.keys(r.json.data).length }
    })
    await step('wacht: GET /session/token -> {token, expires in ms}; iss = API origin, sub, sid', async () => {
      const r = await b.call('/session/token')
      check(r.ok, { status: r.status })
      token = r.json.data.token
      const exp = r.json.data.expires
      check(typeof exp === 'number' && exp > Date.now() && exp > 1e12, { expires: typeof exp, in_ms: exp > 1e12 })
      const { header, payload } = decodeJwt(token)
      check(payload.sub === user.id, 'sub differs from the user id')
      check(typeof (payload.sid ?? payload.sess) === 'string' || typeof (payload.sid ?? payload.sess) === 'number', 'no sid/sess claim (@wacht/backend reads sid || sess)')
      check(payload.iss === new URL(API).origin, { iss_is_api_origin: false, api_has_path: new URL(API).pathname !== '/' })
      return { alg: header.alg, kid: !!header.kid, lifetime_s: payload.exp - (payload.iat ?? payload.nbf ?? payload.exp) }
    })
    await step('wacht: @wacht/backend getAuthFromToken verifies it via the JWKS at the API origin', async () => {
      const auth = await getAuthFromToken(token, { publishableKey: PK })
      check(auth.userId === user.id, { verified: auth.userId !== null, note: 'null means the signature, iss or JWKS lookup failed' })
      check(auth.sessionId !== null, 'sessionId null')
      return { sessionId: typeof auth.sessionId }
    })
    await step('wacht: @wacht/backend exchangeSessionForAuthToken(__session) -> a token that verifies', async () => {
      const out = await exchangeSessionForAuthToken(b.jar.values.get('__session'), { publishableKey: PK }, false, { forwardedFor: '203.0.113.9' })
      check(out.authToken, { authToken: null, note: 'GET {origin}/session/token with Cookie: __session failed' })
      const auth = await getAuthFromToken(out.authToken, { publishableKey: PK })
      check(auth.userId === user.id, 'exchanged token does not verify')
      return { expires_ms: typeof out.authTokenExpiresAt }
    })
    if (PROTECTED) {
      await step('wacht: the __session cookie reaches a protected upstream route', async () => {
        const res = await fetch(PROTECTED, { headers: { Cookie: b.jar.header() } })
        check(res.status >= 200 && res.status < 300, { status: res.status })
        return { status: res.status }
      })
    }
    await step('wacht: POST /session/sign-out -> active_signin null; /me and /session/token refused', async () => {
      await signOut(b)
      const me = await b.call('/me')
      const tok = await b.call('/session/token')
      check(!me.ok && !tok.ok, { me: me.status, token: tok.status })
      return { me: me.status, token: tok.status }
    })
  })

  await flow('phone code', async () => {
    const b = new Browser()
    const phone = uniquePhone()
    let attempt, code
    await step('wacht: POST /auth/signin (strategy=phone_otp) -> attempt at verify_phone_otp', async () => {
      attempt = lastAttempt(await startSignIn(b, 'phone_otp', { phone }))
      checkAttempt(attempt, 'verify_phone_otp', 'phone_otp')
    })
    await step('wacht: prepare-verification strategy=phone_otp, then the SMS code signs in', async () => {
      await prepare(b, attempt.id, 'phone_otp')
      code = (await waitForMessage(phone, 'code')).code
      const r = await complete(b, attempt.id, code)
      check(r.ok, { status: r.status, error: mapped(r).error })
      checkSignedIn(r.json.data, attempt.id)
    })
    await step('wacht: sign out (phone session)', () => signOut(b))
  })

  await flow('magic link', async () => {
    const b = new Browser()
    const email = uniqueEmail('wa-link')
    let attempt, params
    await step('wacht: POST /auth/signin (strategy=magic_link) -> attempt at verify_email_link', async () => {
      attempt = lastAttempt(await startSignIn(b, 'magic_link', { email }))
      checkAttempt(attempt, 'verify_email_link', 'magic_link')
    })
    await step('wacht: prepare-verification strategy=magic_link&redirect_uri -> link mailed', async () => {
      await prepare(b, attempt.id, 'magic_link', { redirect_uri: REDIRECT })
      const link = (await waitForMessage(email, 'link')).link
      const direct = queryParams(link)
      if (direct.token && direct.attempt) {
        params = direct
      } else {
        const r = await followMagicLink(link, { stopAt: REDIRECT })
        params = r.location ? queryParams(r.location) : {}
      }
      check(params.token && params.attempt, { link_or_landing_has: Object.keys(params) })
      return { link_host_is_api: new URL(link).origin === new URL(API).origin }
    })
    await step('wacht: a mail scanner GETting the link consumes nothing', async () => {
      const link = (await waitForMessage(email, 'link')).link
      const res = await fetch(link, { redirect: 'manual', headers: { Accept: 'text/html' } })
      await res.arrayBuffer()
      check(res.status < 500, { status: res.status })
      return { status: res.status }
    })
    await step('wacht: GET /auth/verify-magic-link?token&attempt (landing page, same browser) -> signed in', async () => {
      const q = new URLSearchParams({ token: params.token, attempt: params.attempt })
      if (params.redirect_uri) q.set('redirect_uri', params.redirect_uri)
      const r = await b.call(`/auth/verify-magic-link?${q}`)
      check(r.ok, { status: r.status, error: mapped(r).error })
      envelope(r)
      const s = await b.call('/session')
      check(s.ok && s.json.data.active_signin, 'no active_signin after the link')
      const again = await b.call(`/auth/verify-magic-link?${q}`)
      check(!again.ok, { second_use: again.status })
      return { second_use: again.status }
    })
    await step('wacht: sign out (link session)', () => signOut(b))
  })

  await flow('sign-up', async () => {
    const b = new Browser()
    const email = uniqueEmail('wa-signup')
    let attempt, code
    await step('wacht: POST /auth/signup (FormData) -> signup attempt at verify_email', async () => {
      const r = await b.call('/auth/signup', { method: 'POST', body: form({ email, first_name: 'Pass', last_name: 'Gate' }) })
      check(r.ok, { status: r.status, error: mapped(r).error })
      envelope(r)
      attempt = lastAttempt(r.json.data, 'signup_attempts')
      check(typeof attempt.id === 'string' && attempt.current_step === 'verify_email', { current_step: attempt.current_step })
    })
    await step('wacht: prepare/attempt with identifier_type=signup -> signed in', async () => {
      await prepare(b, attempt.id, 'email_otp', {}, 'signup')
      code = (await waitForMessage(email, 'code')).code
      const r = await complete(b, attempt.id, code, 'signup')
      check(r.ok, { status: r.status, error: mapped(r).error })
      const a = lastAttempt(r.json.data, 'signup_attempts')
      check(a.completed === true, { completed: a.completed })
      check(r.json.data.active_signin?.user?.id, 'no active_signin after sign-up')
    })
    await step('wacht: sign out (sign-up session)', () => signOut(b))
  })

  await flow('documented JSON (seed request)', async () => {
    const b = new Browser()
    const email = uniqueEmail('wa-json')
    let id, code
    await step('wacht: POST /auth/signin urlencoded (docs) -> attempt', async () => {
      const r = await b.call('/auth/signin', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ strategy: 'email_otp', email }).toString(),
      })
      check(r.ok, { status: r.status, error: mapped(r).error })
      id = lastAttempt(r.json.data).id
    })
    await step('wacht: POST /auth/prepare-verification JSON {signin_attempt_id, method:"email"}', async () => {
      const r = await b.call('/auth/prepare-verification', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ signin_attempt_id: id, method: 'email' }),
      })
      check(r.ok, { status: r.status, error: mapped(r).error })
      code = (await waitForMessage(email, 'code')).code
    })
    await step('wacht: POST /auth/attempt-verification JSON {signin_attempt_id, code} -> signed in', async () => {
      const r = await b.call('/auth/attempt-verification', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ signin_attempt_id: id, code }),
      })
      check(r.ok, { status: r.status, error: mapped(r).error })
      envelope(r)
      checkSignedIn(r.json.data, id)
    })
  })

  await flow('attempts burn', async () => {
    const b = new Browser()
    const email = uniqueEmail('wa-burn')
    await step(`wacht: ${MAX_ATTEMPTS} wrong codes burn the attempt; the right code then fails`, async () => {
      const a = lastAttempt(await startSignIn(b, 'email_otp', { email }))
      await prepare(b, a.id, 'email_otp')
      const code = (await waitForMessage(email, 'code')).code
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        const r = await complete(b, a.id, wrongCode(code))
        check(!r.ok, 'a wrong code was accepted')
      }
      return expectError(await complete(b, a.id, code), 'right code after the attempt burned')
    })
  })

  await flow('no enumeration', async () => {
    await step('wacht: a disallowed address gets the same sign-in answer as an allowed one', async () => {
      const ok = lastAttempt(await startSignIn(new Browser(), 'email_otp', { email: uniqueEmail('wa-enum') }))
      const b = new Browser()
      const no = lastAttempt(await startSignIn(b, 'email_otp', { email: DISALLOWED }))
      check(JSON.stringify(Object.keys(no).sort()) === JSON.stringify(Object.keys(ok).sort()), { allowed_keys: Object.keys(ok), disallowed_keys: Object.keys(no) })
      check(no.current_step === ok.current_step, { current_step: no.current_step })
      await prepare(b, no.id, 'email_otp')
      return { current_step: no.current_step }
    })
  })

  if (crossOrigin) {
    await flow('cors', async () => {
      await step('wacht: every answer allowed the app origin with credentials', () => {
        check(corsProblems.length === 0, { problems: corsProblems.slice(0, 5) })
      })
    })
  }
}

run(main)
