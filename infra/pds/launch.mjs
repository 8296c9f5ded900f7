// Starts Bluesky's own test network (a PLC directory in memory and a PDS on SQLite) on
// loopback, for the Bluesky adapter's tests. No AppView: app.bsky.* reads answer 502.
//
//   node launch.mjs [--pds-port 2583] [--plc-port 2582]
//   PDS_PORT=2583 PLC_PORT=2582 node launch.mjs
//
// Prints one line `PDS <url>` once the PDS listens; stops cleanly on SIGTERM or SIGINT.
// Give fixed ports: with port 0 the PDS listens on another port than the one it reports.
import { TestNetworkNoAppView } from '@atproto/dev-env'

function option(name, envName, fallback) {
  const index = process.argv.indexOf(`--${name}`)
  if (index !== -1 && process.argv[index + 1]) return Number(process.argv[index + 1])
  if (process.env[envName]) return Number(process.env[envName])
  return fallback
}

const pdsPort = option('pds-port', 'PDS_PORT', 2583)
const plcPort = option('plc-port', 'PLC_PORT', 2582)

const net = await TestNetworkNoAppView.create({
  pds: { port: pdsPort, hostname: 'localhost' },
  plc: { port: plcPort },
})
console.log(`PDS ${net.pds.url}`)

let closing = false
async function shutdown() {
  if (closing) return
  closing = true
  try {
    await net.close()
  } finally {
    process.exit(0)
  }
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
