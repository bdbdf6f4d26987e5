import { it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { PrivateDockerd } from './helpers/dockerd';
import { proxyLabels } from './helpers/docker-fleet';
import { FleetAgent, FleetController, sleep } from './helpers/fleet';
it('cross timing', async () => {
  const d = await PrivateDockerd.start();
  const ctl = await FleetController.start();
  const a = await FleetAgent.enroll(ctl, { ip: '127.0.0.61', name: 'ta', env: { CADDYFLEET_NO_DOCKER: 'true' } });
  const b = await FleetAgent.enroll(ctl, { ip: '127.0.0.62', name: 'tb', env: { CADDYFLEET_DOCKER_HOST: d.host, HOST_IP: '127.0.0.62', CADDYFLEET_LOG_LEVEL: 'debug' }, logLevel: 'debug' });
  const log: string[] = [];
  let fail = '';
  try {
    await d.run({ name: 'cx', labels: proxyLabels('cx.test', 80, { 'caddyfleet.node': 'ta' }), publish: [{ ip: '127.0.0.62', containerPort: 80 }] });
    await a.waitServes('cx.test', (r) => r.status === 200, 'first');
    for (let i = 0; i < 15; i++) {
      const t0 = Date.now();
      await d.stopContainer('cx');
      try { await a.waitServes('cx.test', (r) => r.status === 404, 'gone', 5000); } catch (e) { fail = `gone failed at ${i} t0=${t0}`; break; }
      log.push(`gone +${Date.now() - t0}`);
      await sleep(200);
      await d.startContainer('cx');
      await a.waitServes('cx.test', (r) => r.status === 200, 'served');
      await sleep(200);
    }
  } finally {
    writeFileSync('/tmp/dtest/cross.txt', fail + '\n' + log.join('\n') + '\nB:\n' + b.output().split('\n').filter(l => /docker|publish|frame/.test(l)).slice(-30).join('\n'));
    await b.dispose(); await a.dispose(); await ctl.dispose(); await d.dispose();
  }
}, 300000);
