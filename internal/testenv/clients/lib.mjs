// Shared helpers for the client scripts: step reporting, the code sink, magic-link
// following, JWT checks against a JWKS, a recording fetch and a cookie jar.
// Output contract: one JSON line per checked step on stdout,
// {"step":"…","ok":true|false,"detail":…}; exit status 1 if any step failed.
// Never print codes, tokens or cookie values: details carry statuses and shapes only.

import { randomBytes, webcrypto } from 'node:crypto'

const subtle = webcrypto.subtle

export function env(name, fallback) {
  const v = process.env[name]
  if (v === undefined || v === '') {
    if (fallback === undefined) {
      throw new Error(`environment variable ${name} is required`)
    }
    return fallback
  }
  return v
}

export function envInt(name, fallback) {
  const v = Number(env(name, String(fallback)))
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`)
  return v
}

// ---- reporting ---------------------------------------------------------------

let failures = 0
let steps = 0

class StepFailed extends Error {}

function emit(step, ok, detail) {
  steps++
  if (!ok) failures++
  process.stdout.write(JSON.stringify({ step, ok, detail: detail ?? null }) + '\n')
}

// check throws a step failure with a detail when cond is false.
export function check(cond, detail) {
  if (!cond) {
    const e = new StepFailed(typeof detail === 'string' ? detail : 'check failed')
    e.detail = detail
    throw e
  }
}

// step runs fn; a return value is the step's detail. A thrown error fails the
// step and aborts the enclosing flow (later steps of a flow depend on earlier ones).
export async function step(name, fn) {
  try {
    const out = await fn()
    emit(name, true, out === undefined ? null : out)
    return out
  } catch (e) {
    const detail = e instanceof StepFailed ? e.detail : describeError(e)
    emit(name, false, detail)
    const abort = new Error(`step ${name} failed`)
    abort.flowAbort = true
    throw abort
  }
}

// flow runs a group of dependent steps; a failure ends the group, not the run.
export async function flow(name, fn) {
  try {
    await fn()
  } catch (e) {
    if (!e.flowAbort) emit(`${name}: unexpected error`, false, describeError(e))
  }
}

export function describeError(e) {
  if (e === null || e === undefined) return String(e)
  if (typeof e !== 'object') return String(e)
  const out = { name: e.name, message: e.message }
  for (const k of ['status', 'code', 'reason']) if (e[k] !== undefined) out[k] = e[k]
  if (e.body !== undefined) out.body = e.body
  return out
}

// run wraps a script's main with a hard deadline so that a client stuck in a
// loop (e.g. nhost-js refresh recursion) fails the run instead of hanging it.
export async function run(main) {
  const limit = envInt('PASSGATE_SCRIPT_TIMEOUT_MS', 180000)
  const timer = setTimeout(() => {
    emit('script finished within PASSGATE_SCRIPT_TIMEOUT_MS', false, { limit_ms: limit })
    process.exit(1)
  }, limit)
  try {
    await main()
  } catch (e) {
    if (!e.flowAbort) emit('script: unexpected error', false, describeError(e))
  } finally {
    clearTimeout(timer)
  }
  if (steps === 0) emit('script ran at least one step', false, null)
  process.exitCode = failures > 0 ? 1 : 0
}

// ---- identities and the code sink --------------------------------------------

export function uniqueEmail(tag) {
  const domain = env('PASSGATE_EMAIL_DOMAIN', 'example.com')
  return `pg-${tag}-${randomBytes(5).toString('hex')}@${domain}`
}

export function uniquePhone() {
  const prefix = env('PASSGATE_PHONE_PREFIX', '+1555')
  let digits = ''
  const bytes = randomBytes(7)
  for (const b of bytes) digits += String(b % 10)
  return prefix + digits
}

// waitForMessage polls GET $PASSGATE_CODE_URL?to=<address> until the sink has a
// message whose `want` field ('code' or 'link') is set and differs from `notEqual`.
export async function waitForMessage(to, want, notEqual) {
  const base = env('PASSGATE_CODE_URL')
  const deadline = Date.now() + envInt('PASSGATE_CODE_TIMEOUT_MS', 15000)
  const url = new URL(base)
  url.searchParams.set('to', to)
  let last = 'nothing yet'
  for (;;) {
    const res = await fetch(url)
    if (res.status === 200) {
      const body = await res.json()
      if (typeof body[want] === 'string' && body[want] !== '' && body[want] !== notEqual) {
        return body
      }
      last = `latest message has no new ${want}`
    } else if (res.status !== 404) {
      last = `code sink answered ${res.status}`
    }
    if (Date.now() > deadline) {
      throw new StepFailedDetail({ waited_for: want, to_kind: to.includes('@') ? 'email' : 'phone', last })
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

class StepFailedDetail extends StepFailed {
  constructor(detail) {
    super('code sink deadline')
    this.detail = detail
  }
}

// latestMessage answers the sink's current message or null (404), without waiting.
export async function latestMessage(to) {
  const url = new URL(env('PASSGATE_CODE_URL'))
  url.searchParams.set('to', to)
  const res = await fetch(url)
  if (res.status !== 200) return null
  return await res.json()
}

// wrongCode answers a code of the same length that differs from code in every digit.
export function wrongCode(code) {
  return code.replace(/[0-9]/g, (d) => String((Number(d) + 5) % 10))
}

// ---- magic links --------------------------------------------------------------

// followMagicLink opens an emailed link the way a browser does, without following
// the final redirect (see isFinal). GETs (repeated, to show they consume
// nothing) may hop between gateway pages; a 200 HTML answer must be the
// scanner-safe continue page, whose single POST form is then submitted with the
// browser's Origin header. A redirect off the gateway reached by GETs alone that
// carries credentials means a GET consumed the link: consumedByGet is then true.
// Answers {status, location, via, consumedByGet}.
const CREDENTIAL_KEYS = ['access_token', 'refresh_token', 'refreshToken', 'code']

function carriesCredentials(location) {
  try {
    const u = new URL(location)
    const f = new URLSearchParams(u.hash.replace(/^#/, ''))
    return CREDENTIAL_KEYS.some((k) => u.searchParams.has(k) || f.has(k))
  } catch {
    return false
  }
}

// A redirect is followed only while it stays on the gateway and is not the final
// one: not to stopAt (the app's redirect URL), no credentials, no error.
function isFinal(next, start, stopAt) {
  if (next.origin !== new URL(start).origin) return true
  if (stopAt && next.href.startsWith(stopAt)) return true
  if (carriesCredentials(next.href)) return true
  const f = new URLSearchParams(next.hash.replace(/^#/, ''))
  return next.searchParams.has('error') || f.has('error') || f.has('error_code')
}

async function getChain(start, headers, stopAt) {
  let url = new URL(start)
  for (let hop = 0; hop < 5; hop++) {
    const res = await fetch(url, { redirect: 'manual', headers: { Accept: 'text/html,application/xhtml+xml', ...headers } })
    if (res.status >= 300 && res.status < 400) {
      await res.arrayBuffer()
      const next = new URL(res.headers.get('location'), url)
      if (isFinal(next, start, stopAt)) return { res, url, location: next.href }
      url = next
      continue
    }
    return { res, url, body: await res.text() }
  }
  return { res: null, url, location: null }
}

export async function followMagicLink(link, { gets = 2, headers = {}, stopAt = '' } = {}) {
  let last
  for (let i = 0; i < gets; i++) {
    last = await getChain(link, headers, stopAt)
    if (last.location) {
      return { status: last.res.status, location: last.location, via: 'get-redirect', consumedByGet: carriesCredentials(last.location) }
    }
  }
  const { res, url, body } = last
  if (!res) return { status: null, location: null, via: 'too-many-redirects', consumedByGet: false }
  const type = res.headers.get('content-type') || ''
  if (res.status !== 200 || !type.includes('text/html')) {
    return { status: res.status, location: null, via: 'page', content_type: type, consumedByGet: false }
  }
  const form = parseForm(body, url)
  if (!form) return { status: res.status, location: null, via: 'page-without-form', consumedByGet: false }
  const post = await fetch(form.action, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Origin: new URL(form.action).origin,
      Accept: 'text/html,application/xhtml+xml',
      ...headers,
    },
    body: new URLSearchParams(form.fields).toString(),
  })
  await post.arrayBuffer()
  const loc = post.headers.get('location')
  return { status: post.status, location: loc ? new URL(loc, form.action).href : null, via: 'continue-page', consumedByGet: false }
}

const entities = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'", '#x27': "'", '#47': '/', '#x2F': '/' }
function decodeEntities(s) {
  return s.replace(/&(#x?[0-9a-fA-F]+|[a-z]+);/g, (m, name) => {
    if (entities[name] !== undefined) return entities[name]
    if (name[0] === '#') {
      const n = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10)
      if (Number.isFinite(n)) return String.fromCodePoint(n)
    }
    return m
  })
}

function attrs(tag) {
  const out = {}
  const re = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g
  let m
  const inner = tag.replace(/^<\s*[a-zA-Z]+/, '').replace(/\/?>$/, '')
  while ((m = re.exec(inner))) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '')
  }
  return out
}

// parseForm finds the first POST form and its named input/button values.
export function parseForm(html, base) {
  const formRe = /<form\b[^>]*>([\s\S]*?)<\/form>/gi
  let m
  while ((m = formRe.exec(html))) {
    const open = m[0].match(/^<form\b[^>]*>/i)[0]
    const a = attrs(open)
    if ((a.method || 'get').toLowerCase() !== 'post') continue
    const fields = []
    const inputRe = /<(input|button)\b[^>]*>/gi
    let im
    while ((im = inputRe.exec(m[1]))) {
      const ia = attrs(im[0])
      if (!ia.name) continue
      const type = (ia.type || (im[1].toLowerCase() === 'button' ? 'submit' : 'text')).toLowerCase()
      if (['checkbox', 'radio', 'file', 'reset', 'image'].includes(type)) continue
      fields.push([ia.name, ia.value ?? ''])
    }
    const action = new URL(a.action ? a.action : base.href, base)
    return { action: action.href, fields }
  }
  return null
}

// fragmentParams / queryParams read the parameters of a redirect Location.
export function fragmentParams(location) {
  const u = new URL(location)
  return Object.fromEntries(new URLSearchParams(u.hash.replace(/^#/, '')))
}

export function queryParams(location) {
  return Object.fromEntries(new URL(location).searchParams)
}

// ---- JWT ----------------------------------------------------------------------

function b64urlBytes(s) {
  return new Uint8Array(Buffer.from(s, 'base64url'))
}

export function decodeJwt(token) {
  const parts = String(token).split('.')
  if (parts.length !== 3) throw new StepFailedDetail('token is not a three-part JWT')
  return {
    header: JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')),
  }
}

const algs = {
  ES256: { imp: { name: 'ECDSA', namedCurve: 'P-256' }, ver: { name: 'ECDSA', hash: 'SHA-256' } },
  ES384: { imp: { name: 'ECDSA', namedCurve: 'P-384' }, ver: { name: 'ECDSA', hash: 'SHA-384' } },
  RS256: { imp: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, ver: { name: 'RSASSA-PKCS1-v1_5' } },
}

// verifyJwt checks a JWS signature against a JWKS the way the clients do: the key
// is chosen by kid; answers {ok, reason}.
export async function verifyJwt(token, jwks) {
  const parts = token.split('.')
  const { header } = decodeJwt(token)
  const a = algs[header.alg]
  if (!a) return { ok: false, reason: `alg ${header.alg} is not an asymmetric alg the clients verify` }
  const keys = Array.isArray(jwks?.keys) ? jwks.keys : []
  const jwk = keys.find((k) => k.kid === header.kid)
  if (!jwk) return { ok: false, reason: `no JWKS key with kid ${header.kid}` }
  if (jwk.d !== undefined) return { ok: false, reason: 'JWKS publishes a private key component' }
  const { d, ...pub } = jwk
  const key = await subtle.importKey('jwk', pub, a.imp, false, ['verify'])
  const ok = await subtle.verify(a.ver, key, b64urlBytes(parts[2]), new TextEncoder().encode(`${parts[0]}.${parts[1]}`))
  return ok ? { ok: true } : { ok: false, reason: 'signature does not verify' }
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

// ---- recording fetch -----------------------------------------------------------

// recorder wraps fetch and keeps method, path, request headers, status, response
// headers and (for JSON error answers) the body, so steps can assert the wire.
export function recorder(origin) {
  const log = []
  const wrapped = async (input, init = {}) => {
    const req = new Request(input, init)
    const entry = {
      method: req.method,
      url: req.url,
      path: new URL(req.url).pathname,
      query: new URL(req.url).search,
      headers: Object.fromEntries(req.headers),
      body: typeof init.body === 'string' ? init.body : null,
    }
    log.push(entry)
    const res = await fetch(input, init)
    entry.status = res.status
    entry.resHeaders = Object.fromEntries(res.headers)
    if (res.status >= 400) {
      try {
        entry.errorBody = await res.clone().json()
      } catch {
        entry.errorBody = '(not JSON)'
      }
    }
    return res
  }
  wrapped.log = log
  wrapped.mark = () => log.length
  wrapped.since = (mark) => log.slice(mark)
  return wrapped
}

// ---- cookie jar -----------------------------------------------------------------

// CookieJar keeps cookies by name for one site and remembers the attributes the
// server last set, so steps can check HttpOnly, Secure, SameSite and Path.
export class CookieJar {
  constructor() {
    this.values = new Map()
    this.attributes = new Map()
  }
  header() {
    return [...this.values].map(([k, v]) => `${k}=${v}`).join('; ')
  }
  store(res) {
    const list = typeof res.headers.getSetCookie === 'function' ? res.headers.getSetCookie() : []
    for (const line of list) {
      const [pair, ...rest] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const at = {}
      for (const p of rest) {
        const [k, ...v] = p.trim().split('=')
        at[k.toLowerCase()] = v.length ? v.join('=') : true
      }
      this.attributes.set(name, at)
      const expired =
        (at['max-age'] !== undefined && Number(at['max-age']) <= 0) ||
        (at.expires !== undefined && Date.parse(at.expires) <= Date.now()) ||
        value === ''
      if (expired) this.values.delete(name)
      else this.values.set(name, value)
    }
  }
}
