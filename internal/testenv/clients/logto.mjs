// Drives @logto/api 1.42.0 (the Management API client) against passgate's Logto
// door (compat logto), as an app backend would: a client-credentials token from
// POST /oidc/token, then POST /api/verification-codes and .../verify. See
// README.md for the inputs.

import { createManagementApi } from '@logto/api/management'
import {
  env, envInt, run, flow, step, check, uniqueEmail, waitForMessage, wrongCode,
} from './lib.mjs'

const ORIGIN = new URL(env('PASSGATE_URL')).origin
const MOUNT = env('PASSGATE_LOGTO_MOUNT', '/logto').replace(/\/+$/, '')
const CLIENT_ID = env('PASSGATE_LOGTO_CLIENT_ID')
const CLIENT_SECRET = env('PASSGATE_LOGTO_CLIENT_SECRET')
const RESOURCE = env('PASSGATE_LOGTO_RESOURCE', 'https://default.logto.app/api')
const PROTECTED = env('PASSGATE_PROTECTED_URL', `${ORIGIN}/app`)
const MAX_ATTEMPTS = envInt('PASSGATE_MAX_ATTEMPTS', 5)

function management(secret = CLIENT_SECRET) {
  return createManagementApi('default', {
    clientId: CLIENT_ID,
    clientSecret: secret,
    baseUrl: ORIGIN + MOUNT,
    apiIndicator: RESOURCE,
  })
}

// logtoError checks an openapi-fetch answer for Logto's error body.
function logtoError(res, status, code) {
  check(res.response.status === status && res.error?.code === code && typeof res.error?.message === 'string',
    { status: res.response.status, code: res.error?.code })
  return { status, code }
}

async function send(api, email) {
  const res = await api.POST('/api/verification-codes', { body: { email } })
  check(res.response.status === 204, { status: res.response.status, error: res.error?.code })
}

async function verifyCode(api, email, verificationCode) {
  return api.POST('/api/verification-codes/verify', { body: { email, verificationCode } })
}

await run(async () => {
  const { apiClient: api, clientCredentials } = management()

  await flow('token', async () => {
    await step('client_credentials token for the Management API', async () => {
      const tok = await clientCredentials.getAccessToken()
      check(typeof tok.value === 'string' && tok.value.split('.').length === 3 && tok.scope === 'all',
        { scope: tok.scope })
      const [, payload] = tok.value.split('.')
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString())
      check(claims.aud === RESOURCE && claims.sub === CLIENT_ID && claims.scope === 'all' && !('sid' in claims),
        { aud: claims.aud, scope: claims.scope, sid: 'sid' in claims })
      check(tok.expiresAt - Date.now() / 1000 <= 600, { expires_in: tok.expiresAt - Math.floor(Date.now() / 1000) })
      return { scope: tok.scope, aud: claims.aud }
    })
    await step('the token opens no protected route', async () => {
      const tok = await clientCredentials.getAccessToken()
      const res = await fetch(PROTECTED, { headers: { Authorization: `Bearer ${tok.value}`, Accept: 'application/json' } })
      check(res.status === 401, { status: res.status })
      return { status: res.status }
    })
  })

  await flow('send and verify', async () => {
    const email = uniqueEmail('logto')
    await step('POST /api/verification-codes → 204', () => send(api, email))
    const { code } = await step('the code arrives', () => waitForMessage(email, 'code'))
    await step('wrong code → 400 verification_code.code_mismatch', async () =>
      logtoError(await verifyCode(api, email, wrongCode(code)), 400, 'verification_code.code_mismatch'))
    await step('right code → 204', async () => {
      const res = await verifyCode(api, email, code)
      check(res.response.status === 204, { status: res.response.status, error: res.error?.code })
    })
    await step('the code again → 400 verification_code.not_found', async () =>
      logtoError(await verifyCode(api, email, code), 400, 'verification_code.not_found'))
  })

  await flow('unknown record', async () => {
    await step('verify with nothing sent → 400 verification_code.not_found', async () =>
      logtoError(await verifyCode(api, uniqueEmail('never'), '123456'), 400, 'verification_code.not_found'))
  })

  await flow('too many tries', async () => {
    const email = uniqueEmail('tries')
    await step('send', () => send(api, email))
    const { code } = await step('the code arrives', () => waitForMessage(email, 'code'))
    for (let i = 1; i < MAX_ATTEMPTS; i++) {
      await step(`wrong code ${i} → code_mismatch`, async () =>
        logtoError(await verifyCode(api, email, wrongCode(code)), 400, 'verification_code.code_mismatch'))
    }
    await step(`wrong code ${MAX_ATTEMPTS} → 400 verification_code.exceed_max_try`, async () =>
      logtoError(await verifyCode(api, email, wrongCode(code)), 400, 'verification_code.exceed_max_try'))
    await step('the right code after that → 400 verification_code.not_found', async () =>
      logtoError(await verifyCode(api, email, code), 400, 'verification_code.not_found'))
  })

  await flow('invalid input', async () => {
    await step('an email that is not one → 400 guard.invalid_input', async () =>
      logtoError(await api.POST('/api/verification-codes', { body: { email: 'nope' } }), 400, 'guard.invalid_input'))
    await step('a phone with + → 400 guard.invalid_input', async () =>
      logtoError(await api.POST('/api/verification-codes', { body: { phone: '+15555550100' } }), 400, 'guard.invalid_input'))
  })

  await flow('wrong secret', async () => {
    await step('a wrong client secret gets no token (401)', async () => {
      const { apiClient } = management(CLIENT_SECRET.slice(0, -1) + (CLIENT_SECRET.endsWith('x') ? 'y' : 'x'))
      try {
        await apiClient.POST('/api/verification-codes', { body: { email: uniqueEmail('x') } })
      } catch (e) {
        check(e.name === 'ClientCredentialsError' && / 401 /.test(e.message), { name: e.name, message: e.message })
        return { error: e.name }
      }
      check(false, 'the call went through')
    })
  })
})
