// Stands in for ssh2 in the agent executable: docker-modem loads it for ssh:// Docker hosts, which the agent
// refuses at start-up, and ssh2's native add-ons cannot load in a single executable anyway.
class Client {
  constructor() {
    throw new Error('ssh:// Docker hosts are not supported by caddyfleet-agent; use a unix socket or tcp://');
  }
}
module.exports = { Client };
