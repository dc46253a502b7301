// Drives @supabase/supabase-js and @supabase/auth-js 2.119.1 against passgate's
// Supabase door (compat supabase), as an app would. See README.md for the inputs.

import { createClient } from '@supabase/supabase-js'
import { AuthClient } from '@supabase/auth-js'
import {
  env, envInt, run, flow, step, check, uniqueEmail, uniquePhone,
  waitForMessage, latestMessage, wrongCode, followMagicLink, fragmentParams, queryParams,
  decodeJwt, recorder, UUID_RE,
} from './lib.mjs'

const ORIGIN = new URL(env('PASSGATE_URL')).origin
const MOUNT = env('PASSGATE_SUPABASE_MOUNT', '/auth/v1').replace(/\/+$/, '')
const KEY = env('PASSGATE_SUPABASE_KEY', 'sb_publishable_passgate-test-key')
const REDIRECT = env('PASSGATE_REDIRECT_URL', `${ORIGIN}/app/callback`)
const PROTECTED = process.env.PASSGATE_PROTECTED_URL || ''
const DISALLOWED = env('PASSGATE_DISALLOWED_EMAIL', 'pg-nobody@disallowed.example.net')
const AUTH_URL = ORIGIN + MOUNT
const MAX_ATTEMPTS = envInt('PASSGATE_MAX_ATTEMPTS', 5)
// options.data of the first sign-in: kept with the user as user_metadata.
const SIGNUP_DATA = { name: 'Passgate Test', plan: 'free' }
// supabase-js builds its auth URL as new URL('auth/v1', base): the base is the mount minus /auth/v1.
const SB_BASE = ORIGIN + MOUNT.slice(0, -'/auth/v1'.length) + '/'

// Node 20 has no global WebSocket; realtime-js is built eagerly by createClient.
class NoWebSocket {
  constructor() {
    this.readyState = 3
  }
  close() {}
  send() {}
}

function memoryStorage() {
  const m = new Map()
  return {
    map: m,
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => void m.set(k, v),
    removeItem: (k) => void m.delete(k),
  }
}

let clientCount = 0
// newClient is a supabase-js client with its own storage (one per "browser").
function newClient() {
  const rec = recorder()
  const storage = memoryStorage()
  const sb = createClient(SB_BASE, KEY, {
    auth: {
      storage,
      storageKey: `sb-passgate-${++clientCount}-auth-token`,
      persistSession: true,
      autoRefreshToken: false,
      detectSessionInUrl: false,
    },
    realtime: { transport: NoWebSocket },
    global: { fetch: rec },
  })
  return { sb, rec, storage }
}

function authErr(error) {
  if (!error) return null
  return { name: error.name, status: error.status, code: error.code, message: error.message }
}

function expectAuthError(error, { name, status, code }) {
  check(error, { expected: { name, status, code }, got: 'no error' })
  const got = authErr(error)
  const ok = (!name || got.name === name) && (!status || got.status === status) && (!code || got.code === code)
  check(ok, { expected: { name, status, code }, got })
  return got
}

const rateWaitMs = envInt('PASSGATE_RATE_WAIT_MS', 90000)

// sendOtp starts a sign-in; a 429 (resend cooldown on an address already used in
// this run) is waited out as Retry-After says, within PASSGATE_RATE_WAIT_MS.
async function sendOtp(c, creds) {
  const deadline = Date.now() + rateWaitMs
  let waited = 0
  for (;;) {
    const mark = c.rec.mark()
    const r = await c.sb.auth.signInWithOtp(creds)
    if (!r.error) return { r, waited_ms: waited, request: c.rec.since(mark).find((e) => e.path.endsWith('/otp')) }
    const last = c.rec.since(mark).pop()
    const retry = Number(last?.resHeaders?.['retry-after'])
    if (r.error.status !== 429 || !Number.isFinite(retry) || Date.now() + retry * 1000 > deadline) {
      check(false, { error: authErr(r.error), retry_after: last?.resHeaders?.['retry-after'] ?? null })
    }
    await new Promise((res) => setTimeout(res, retry * 1000 + 50))
    waited += retry * 1000
  }
}

async function signInByEmail(c, email) {
  const before = await latestMessage(email)
  const sent = await sendOtp(c, { email, options: { emailRedirectTo: REDIRECT } })
  const msg = await waitForMessage(email, 'code', before?.code)
  const v = await c.sb.auth.verifyOtp({ email, token: msg.code, type: 'email' })
  check(!v.error && v.data.session, { verify: authErr(v.error) })
  return { session: v.data.session, waited_ms: sent.waited_ms }
}

function checkSessionShape(s) {
  check(s && typeof s.access_token === 'string' && typeof s.refresh_token === 'string', 'session lacks tokens')
  check(s.expires_in > 0 && s.expires_at > Date.now() / 1000, { expires_in: s.expires_in, expires_at: s.expires_at })
  check(s.token_type && String(s.token_type).toLowerCase() === 'bearer', { token_type: s.token_type })
  check(s.user && typeof s.user.id === 'string', 'session.user.id missing')
}

function checkClaims(token, user) {
  const { header, payload } = decodeJwt(token)
  const problems = []
  if (header.alg !== 'ES256') problems.push(`alg ${header.alg} (getClaims verifies locally only RS256/ES256 with a kid)`)
  if (!header.kid) problems.push('no kid')
  if (payload.sub !== user.id) problems.push('sub differs from user.id')
  if (!UUID_RE.test(payload.sub || '')) problems.push('sub is not a UUID')
  if (!UUID_RE.test(payload.session_id || '')) problems.push('session_id is not a UUID')
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud]
  if (!aud.includes('authenticated')) problems.push(`aud ${JSON.stringify(payload.aud)}`)
  if (payload.role !== 'authenticated') problems.push(`role ${payload.role}`)
  if (payload.aal !== 'aal1') problems.push(`aal ${payload.aal}`)
  if (!Array.isArray(payload.amr) || !payload.amr.every((e) => typeof e.method === 'string' && typeof e.timestamp === 'number')) problems.push('amr is not [{method,timestamp}]')
  for (const k of ['iss', 'exp', 'iat', 'app_metadata', 'user_metadata', 'is_anonymous']) if (payload[k] === undefined) problems.push(`${k} missing`)
  check(problems.length === 0, { problems })
  return { alg: header.alg, kid_present: !!header.kid, amr: payload.amr.map((e) => e.method), iss: payload.iss }
}

// errorShapes checks every JSON error the gateway sent: both error-code paths of
// auth-js (code + version header, legacy error_code) and both message keys.
function errorShapes(log) {
  const bad = []
  for (const e of log) {
    if (e.status < 400 || e.status >= 500 || !e.url.startsWith(AUTH_URL)) continue
    const b = e.errorBody
    const missing = []
    if (typeof b !== 'object' || b === null) missing.push('JSON body')
    else {
      for (const k of ['code', 'error_code']) if (typeof b[k] !== 'string') missing.push(k)
      if (typeof b.msg !== 'string' && typeof b.message !== 'string') missing.push('msg/message')
    }
    if (!/^2\d{3}-\d{2}-\d{2}$/.test(e.resHeaders['x-supabase-api-version'] || '')) missing.push('X-Supabase-Api-Version')
    if (missing.length) bad.push({ path: e.path, status: e.status, missing })
  }
  return bad
}

async function protectedRoute(accessToken, sub) {
  const res = await fetch(PROTECTED, { headers: { Authorization: `Bearer ${accessToken}` } })
  let body = null
  try {
    body = await res.json()
  } catch {}
  check(res.status >= 200 && res.status < 300, { status: res.status })
  if (body && typeof body.user_id === 'string') check(body.user_id === sub, { user_id_matches: false })
  return { status: res.status, checked_user_id: !!(body && body.user_id) }
}

async function main() {
  const all = []

  let mountOK = false
  await flow('mount', async () => {
    await step('supabase: mount ends in /auth/v1 (supabase-js appends auth/v1 to its URL)', () => {
      check(MOUNT.endsWith('/auth/v1'), { mount: MOUNT })
      mountOK = true
      return { mount: MOUNT }
    })
  })
  if (!mountOK) return

  await flow('setup', async () => {
    await step('supabase: GET /health and /settings answer JSON', async () => {
      const h = await fetch(`${AUTH_URL}/health`, { headers: { apikey: KEY } })
      const hb = await h.json()
      const s = await fetch(`${AUTH_URL}/settings`, { headers: { apikey: KEY } })
      const sbody = await s.json()
      check(h.status === 200 && typeof hb.name === 'string', { health: h.status })
      check(s.status === 200 && typeof sbody.external === 'object', { settings: s.status })
      return { health: h.status, settings: s.status, email: sbody.external.email, phone: sbody.external.phone }
    })
    await step('supabase: JWKS publishes public ES256/P-256 keys with kid', async () => {
      const r = await fetch(`${AUTH_URL}/.well-known/jwks.json`, { headers: { apikey: KEY } })
      const j = await r.json()
      check(r.status === 200 && Array.isArray(j.keys) && j.keys.length > 0, { status: r.status })
      const ok = j.keys.some((k) => k.kty === 'EC' && k.crv === 'P-256' && k.kid && k.x && k.y && k.d === undefined)
      check(ok, { keys: j.keys.map((k) => ({ kty: k.kty, crv: k.crv, alg: k.alg, kid: !!k.kid, private: k.d !== undefined })) })
      return { keys: j.keys.length }
    })
  })

  await flow('email code', async () => {
    const c = newClient()
    all.push(c.rec)
    const email = uniqueEmail('sb-otp')
    let code, session
    await step('supabase: signInWithOtp(email) sends the code, redirect_to in the query, data as sign-up metadata', async () => {
      const { r, request } = await sendOtp(c, { email, options: { emailRedirectTo: REDIRECT, data: SIGNUP_DATA } })
      check(r.data.session === null, 'no session before verification')
      const body = JSON.parse(request.body)
      check(new URLSearchParams(request.query).get('redirect_to') === REDIRECT, { query: request.query })
      check(body.create_user === true && body.code_challenge === null, { body_keys: Object.keys(body) })
      code = (await waitForMessage(email, 'code')).code
      check(/^\d{6,}$/.test(code), { code_length: code.length, digits_only: /^\d+$/.test(code) })
      return { code_length: code.length }
    })
    await step('supabase: resend({type:"signup"}) inside the cooldown -> AuthApiError 429 over_email_send_rate_limit', async () => {
      const mark = c.rec.mark()
      const r = await c.sb.auth.resend({ type: 'signup', email })
      const got = expectAuthError(r.error, { name: 'AuthApiError', status: 429, code: 'over_email_send_rate_limit' })
      const call = c.rec.since(mark).find((e) => e.path.endsWith('/resend'))
      check(Number(call?.resHeaders?.['retry-after']) > 0, { retry_after: call?.resHeaders?.['retry-after'] ?? null })
      return got
    })
    await step('supabase: wrong code -> AuthApiError 403 otp_expired, no session', async () => {
      const v = await c.sb.auth.verifyOtp({ email, token: wrongCode(code), type: 'email' })
      const got = expectAuthError(v.error, { name: 'AuthApiError', status: 403, code: 'otp_expired' })
      check(v.data.session === null, 'session after a wrong code')
      return got
    })
    await step('supabase: right code -> session (access, refresh, expires_in/at, bearer, user)', async () => {
      const v = await c.sb.auth.verifyOtp({ email, token: code, type: 'email' })
      check(!v.error, { error: authErr(v.error) })
      session = v.data.session
      checkSessionShape(session)
      check(session.user.email === email, { user_email_matches: false })
      check(session.user.user_metadata?.name === SIGNUP_DATA.name, { user_metadata: session.user.user_metadata })
      const stored = (await c.sb.auth.getSession()).data.session
      check(stored && stored.access_token === session.access_token, 'session not stored by the client')
      return { expires_in: session.expires_in }
    })
    await step('supabase: access token carries GoTrue claims, ES256 with kid', () => checkClaims(session.access_token, session.user))
    await step('supabase: the same code again -> 403 otp_expired', async () => {
      const v = await c.sb.auth.verifyOtp({ email, token: code, type: 'email' })
      return expectAuthError(v.error, { name: 'AuthApiError', status: 403, code: 'otp_expired' })
    })
    await step('supabase: refreshSession rotates the refresh token', async () => {
      const before = session
      const r = await c.sb.auth.refreshSession()
      check(!r.error && r.data.session, { error: authErr(r.error) })
      checkSessionShape(r.data.session)
      check(r.data.session.refresh_token !== before.refresh_token, 'refresh token not rotated')
      session = r.data.session
      const call = c.rec.log.filter((e) => e.path.endsWith('/token')).pop()
      check(new URLSearchParams(call.query).get('grant_type') === 'refresh_token', { query: call.query })
      return { rotated: true }
    })
    await step('supabase: getUser -> the user (GET /user with the access token)', async () => {
      const r = await c.sb.auth.getUser()
      check(!r.error, { error: authErr(r.error) })
      check(r.data.user.id === decodeJwt(session.access_token).payload.sub, 'user.id differs from sub')
      check(r.data.user.email === email, 'email differs')
      for (const k of ['aud', 'role', 'app_metadata', 'user_metadata', 'created_at']) check(r.data.user[k] !== undefined, `user.${k} missing`)
      check(r.data.user.user_metadata.name === SIGNUP_DATA.name, { user_metadata: r.data.user.user_metadata })
      return { id_matches_sub: true }
    })
    await step('supabase: getClaims verifies locally from the JWKS, without GET /user', async () => {
      const mark = c.rec.mark()
      const r = await c.sb.auth.getClaims()
      check(!r.error && r.data, { error: authErr(r.error) })
      const calls = c.rec.since(mark).map((e) => `${e.method} ${e.path}`)
      check(!calls.some((x) => x.endsWith('/user')), { calls })
      check(r.data.claims.sub === session.user.id, 'claims.sub differs')
      return { calls }
    })
    if (PROTECTED) {
      await step('supabase: the access token reaches a protected upstream route', () => protectedRoute(session.access_token, session.user.id))
    }
    await step('supabase: signOut({scope:"local"}) clears the client and revokes this session', async () => {
      const token = session.access_token
      const r = await c.sb.auth.signOut({ scope: 'local' })
      check(!r.error, { error: authErr(r.error) })
      check((await c.sb.auth.getSession()).data.session === null, 'client still holds a session')
      const call = c.rec.log.filter((e) => e.path.endsWith('/logout')).pop()
      check(call && call.status === 204, { logout_status: call?.status ?? 'not sent' })
      const other = newClient()
      const u = await other.sb.auth.getUser(token)
      check(u.error, 'revoked access token still accepted by GET /user')
      return { logout: call.status, after: authErr(u.error) }
    })
    await step('supabase: every request carried apikey, X-Client-Info, X-Supabase-Api-Version', () => {
      const bad = c.rec.log.filter((e) => !(e.headers.apikey === KEY && /^supabase-js\//.test(e.headers['x-client-info'] || '') && e.headers['x-supabase-api-version'] === '2024-01-01'))
      check(bad.length === 0, { requests_missing_headers: bad.map((e) => `${e.method} ${e.path}`) })
      return { requests: c.rec.log.length }
    })
  })

  await flow('sms code', async () => {
    const c = newClient()
    all.push(c.rec)
    const phone = uniquePhone()
    let code
    await step('supabase: signInWithOtp(phone) sends an SMS code', async () => {
      const { r, request } = await sendOtp(c, { phone })
      const body = JSON.parse(request.body)
      check(body.channel === 'sms' && body.phone === phone, { channel: body.channel })
      code = (await waitForMessage(phone, 'code')).code
      return { message_id: r.data.messageId === undefined ? 'absent' : typeof r.data.messageId }
    })
    await step('supabase: wrong SMS code -> AuthApiError 403 otp_expired', async () => {
      const v = await c.sb.auth.verifyOtp({ phone, token: wrongCode(code), type: 'sms' })
      return expectAuthError(v.error, { name: 'AuthApiError', status: 403, code: 'otp_expired' })
    })
    await step('supabase: verifyOtp({phone, type:"sms"}) -> session for that phone', async () => {
      const v = await c.sb.auth.verifyOtp({ phone, token: code, type: 'sms' })
      check(!v.error && v.data.session, { error: authErr(v.error) })
      checkSessionShape(v.data.session)
      const digits = (s) => String(s || '').replace(/\D/g, '')
      check(digits(v.data.session.user.phone) === digits(phone), 'user.phone differs')
      return { user_phone_has_plus: String(v.data.session.user.phone).startsWith('+') }
    })
    await step('supabase: signOut() (global) from the SMS session', async () => {
      const r = await c.sb.auth.signOut()
      check(!r.error, { error: authErr(r.error) })
      check((await c.sb.auth.getSession()).data.session === null, 'client still holds a session')
    })
  })

  await flow('sign-out scopes', async () => {
    const email = uniqueEmail('sb-scope')
    const x = newClient()
    const y = newClient()
    all.push(x.rec, y.rec)
    const details = {}
    await step('supabase: two sessions for one user (two browsers)', async () => {
      const a = await signInByEmail(x, email)
      const b = await signInByEmail(y, email)
      check(a.session.user.id === b.session.user.id, 'different users for one address')
      check(decodeJwt(a.session.access_token).payload.session_id !== decodeJwt(b.session.access_token).payload.session_id, 'one session id for two sign-ins')
      return { waited_ms: a.waited_ms + b.waited_ms }
    })
    await step('supabase: signOut({scope:"others"}) ends the other session only', async () => {
      const r = await x.sb.auth.signOut({ scope: 'others' })
      check(!r.error, { error: authErr(r.error) })
      const ux = await x.sb.auth.getUser()
      check(!ux.error, { this_session: authErr(ux.error) })
      const uy = await y.sb.auth.getUser()
      details.other = expectAuthError(uy.error, { name: 'AuthSessionMissingError' })
      check((await y.sb.auth.getSession()).data.session === null, 'the other client kept its session after session_not_found')
      return details
    })
    await step('supabase: signOut() (global) ends every session of the user', async () => {
      const again = await signInByEmail(y, email)
      const r = await y.sb.auth.signOut()
      check(!r.error, { error: authErr(r.error) })
      const ux = await x.sb.auth.getUser()
      const got = expectAuthError(ux.error, { name: 'AuthSessionMissingError' })
      return { waited_ms: again.waited_ms, other_session: got }
    })
  })

  await flow('refresh token reuse', async () => {
    const c = newClient()
    all.push(c.rec)
    const email = uniqueEmail('sb-reuse')
    let first
    // Rotated twice: GoTrue hands the current token back for the immediate parent
    // (a lost answer), so only an older token is a reuse on every design.
    await step('supabase: sign in and rotate twice', async () => {
      first = (await signInByEmail(c, email)).session
      for (let i = 0; i < 2; i++) {
        const r = await c.sb.auth.refreshSession()
        check(!r.error && r.data.session.refresh_token !== first.refresh_token, { error: authErr(r.error) })
      }
    })
    await step('supabase: the first refresh token again -> 400 refresh_token_already_used', async () => {
      const r = await c.sb.auth.refreshSession({ refresh_token: first.refresh_token })
      return expectAuthError(r.error, { name: 'AuthApiError', status: 400, code: 'refresh_token_already_used' })
    })
    await step('supabase: reuse revoked the session: getUser -> session_not_found, client drops it', async () => {
      const u = await c.sb.auth.getUser()
      const got = expectAuthError(u.error, { name: 'AuthSessionMissingError' })
      check((await c.sb.auth.getSession()).data.session === null, 'client kept the revoked session')
      return got
    })
  })

  await flow('magic link, implicit', async () => {
    const c = newClient()
    all.push(c.rec)
    const email = uniqueEmail('sb-link')
    let link, location
    await step('supabase: signInWithOtp(email) mails a link on the gateway', async () => {
      await sendOtp(c, { email, options: { emailRedirectTo: REDIRECT } })
      link = (await waitForMessage(email, 'link')).link
      check(new URL(link).origin === ORIGIN, { link_origin: new URL(link).origin })
      return { link_path: new URL(link).pathname }
    })
    await step('supabase: opening the link (GETs consume nothing) -> 303 to redirect_to#access_token…', async () => {
      const r = await followMagicLink(link, { stopAt: REDIRECT })
      check(!r.consumedByGet, { scanner_safe: false, note: 'a bare GET of the emailed link answered a redirect carrying credentials' })
      check(r.location, r)
      location = r.location
      check(location.startsWith(REDIRECT), { redirect_is_redirect_to: false })
      const f = fragmentParams(location)
      for (const k of ['access_token', 'refresh_token', 'expires_in', 'expires_at', 'token_type', 'type']) check(f[k], { missing_in_fragment: k })
      check(f.token_type.toLowerCase() === 'bearer', { token_type: f.token_type })
      return { status: r.status, via: r.via, type: f.type }
    })
    await step('supabase: setSession(fragment tokens) -> signed in, GET /user agrees', async () => {
      const f = fragmentParams(location)
      const r = await c.sb.auth.setSession({ access_token: f.access_token, refresh_token: f.refresh_token })
      check(!r.error && r.data.session, { error: authErr(r.error) })
      check(r.data.user.email === email, 'user email differs')
      checkClaims(f.access_token, r.data.user)
      return { signed_in: true }
    })
    await step('supabase: the same link again gives no session', async () => {
      const r = await followMagicLink(link, { gets: 1, stopAt: REDIRECT })
      const f = r.location ? { ...queryParams(r.location), ...fragmentParams(r.location) } : {}
      check(!f.access_token && !f.code, { status: r.status, got_tokens: true })
      return { status: r.status, via: r.via, error_code: f.error_code ?? null }
    })
  })

  await flow('magic link, PKCE (auth-js)', async () => {
    const rec = recorder()
    all.push(rec)
    const storage = memoryStorage()
    const auth = new AuthClient({
      url: AUTH_URL,
      headers: { apikey: KEY },
      storage,
      storageKey: 'passgate-pkce',
      flowType: 'pkce',
      persistSession: true,
      autoRefreshToken: false,
      detectSessionInUrl: false,
      fetch: rec,
    })
    const email = uniqueEmail('sb-pkce')
    let link, code, verifier
    await step('supabase(pkce): signInWithOtp sends code_challenge with method s256', async () => {
      const r = await auth.signInWithOtp({ email, options: { emailRedirectTo: REDIRECT } })
      check(!r.error, { error: authErr(r.error) })
      const body = JSON.parse(rec.log.find((e) => e.path.endsWith('/otp')).body)
      check(body.code_challenge_method === 's256' && /^[A-Za-z0-9_-]{43}$/.test(body.code_challenge), { method: body.code_challenge_method })
      verifier = storage.getItem('passgate-pkce-code-verifier')
      check(verifier, 'no verifier stored')
      link = (await waitForMessage(email, 'link')).link
      return { verifier_length: JSON.parse(verifier).length }
    })
    await step('supabase(pkce): opening the link -> 303 to redirect_to?code=', async () => {
      const r = await followMagicLink(link, { stopAt: REDIRECT })
      check(!r.consumedByGet, { scanner_safe: false, note: 'a bare GET of the emailed link answered a redirect carrying credentials' })
      check(r.location, r)
      const q = queryParams(r.location)
      check(q.code, { query_keys: Object.keys(q) })
      check(!fragmentParams(r.location).access_token, 'tokens in the fragment of a PKCE redirect')
      code = q.code
      return { status: r.status, via: r.via }
    })
    await step('supabase(pkce): exchangeCodeForSession -> POST /token?grant_type=pkce, session + user', async () => {
      const r = await auth.exchangeCodeForSession(code)
      check(!r.error && r.data.session && r.data.user, { error: authErr(r.error) })
      const call = rec.log.filter((e) => e.path.endsWith('/token')).pop()
      const body = JSON.parse(call.body)
      check(new URLSearchParams(call.query).get('grant_type') === 'pkce' && body.auth_code === code && body.code_verifier, { query: call.query })
      check(r.data.user.email === email, 'user email differs')
      const u = await auth.getUser()
      check(!u.error, { get_user: authErr(u.error) })
      return { signed_in: true }
    })
    await step('supabase(pkce): the auth code cannot be exchanged twice', async () => {
      storage.setItem('passgate-pkce-code-verifier', verifier)
      const r = await auth.exchangeCodeForSession(code)
      check(r.error, 'second exchange succeeded')
      return authErr(r.error)
    })
  })

  await flow('attempts burn', async () => {
    const c = newClient()
    all.push(c.rec)
    const email = uniqueEmail('sb-burn')
    await step(`supabase: ${MAX_ATTEMPTS} wrong codes burn the attempt; the right code then fails`, async () => {
      await sendOtp(c, { email })
      const code = (await waitForMessage(email, 'code')).code
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        const v = await c.sb.auth.verifyOtp({ email, token: wrongCode(code), type: 'email' })
        check(v.error, 'a wrong code was accepted')
      }
      const v = await c.sb.auth.verifyOtp({ email, token: code, type: 'email' })
      return expectAuthError(v.error, { name: 'AuthApiError', status: 403, code: 'otp_expired' })
    })
  })

  await flow('no enumeration', async () => {
    const c = newClient()
    all.push(c.rec)
    await step('supabase: shouldCreateUser:false for an unknown address answers like any start', async () => {
      const unknown = await c.sb.auth.signInWithOtp({ email: uniqueEmail('sb-unknown'), options: { shouldCreateUser: false } })
      check(!unknown.error, { error: authErr(unknown.error), note: 'GoTrue answers 422 otp_disabled here; passgate must not' })
      const disallowed = await c.sb.auth.signInWithOtp({ email: DISALLOWED })
      check(!disallowed.error, { disallowed: authErr(disallowed.error) })
    })
  })

  await flow('error bodies', async () => {
    await step('supabase: every 4xx carried code, error_code, msg/message and X-Supabase-Api-Version', () => {
      const log = all.flatMap((r) => r.log)
      const bad = errorShapes(log)
      check(bad.length === 0, { bad })
      return { error_answers: log.filter((e) => e.status >= 400 && e.status < 500).length }
    })
  })
}

run(main)
