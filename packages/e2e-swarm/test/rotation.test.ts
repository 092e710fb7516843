// Config and secret rotation with the versioned names the stack file uses: a changed moat.yaml and a new
// Redis password go in as MOAT_CONFIG_VERSION=2 and MOAT_REDIS_SECRET_VERSION=2 with `docker stack deploy`;
// every service moves to the new objects, the greylist keeps working with the new password, and the old
// objects, no longer used by anything, are removed (`docker config rm` / `docker secret rm` succeed).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { dockerAt, execIn, freshSender, freshTag, manager, node, sendAt, STACK, swarm, waitConverged, waitDelivered } from './swarm.ts';

const run = promisify(execFile);


describe.skipIf(swarm().lacks)('config and secret rotation', () => {
  beforeAll(() => waitConverged());
  it('moves every service to moat_yaml_2 and moat_redis_password_2, and the old ones can go', async () => {
    const { deploy, secrets } = swarm();
    const m = await manager();
    // the release now running (the upgrade test may have moved it): redeploying must not move it back
    const image = (await dockerAt(m, 'service', 'inspect', '-f', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', `${STACK}_mx1`)).trim();
    const tag = /:([^:@/]+)(@sha256:[0-9a-f]+)?$/.exec(image)?.[1] ?? deploy.env.MOAT_TAG ?? 'v1';

    // version 2: a marked copy of the test profile's moat.yaml, a new Redis password in a second secrets dir
    const dir2 = path.join(secrets, '..', 'secrets-2');
    mkdirSync(path.join(dir2, 'auth'), { recursive: true });
    for (const f of ['tls.crt', 'tls.key', 'auth/users', 'quarantine-token']) copyFileSync(path.join(secrets, f), path.join(dir2, f));
    const password = randomBytes(18).toString('base64url');
    writeFileSync(path.join(dir2, 'redis-password'), `${password}\n`);
    const profile = path.join(deploy.dir, '..', 'packages/e2e-swarm/profile/moat.yaml');
    const marker = `# rotated ${Date.now()}`;
    const yaml2 = path.join(dir2, 'moat.yaml');
    writeFileSync(yaml2, `${readFileSync(profile, 'utf8')}${marker}\n`);
    // the test profile names its moat.yaml; this run points it at the new file through a third compose file
    const override = path.join(dir2, 'stack.rotate.yml');
    writeFileSync(override, `version: "3.8"\nconfigs:\n  moat_yaml:\n    name: moat_yaml_\${MOAT_CONFIG_VERSION:-1}\n    file: ${yaml2}\n`);

    const t0 = Date.now();
    await run('docker', ['-H', node(m).host, 'stack', 'deploy', ...deploy.files.flatMap((f) => ['-c', f]), '-c', override, STACK], {
      cwd: deploy.dir,
      env: { ...process.env, ...deploy.env, MOAT_TAG: tag, MOAT_SECRETS: dir2, MOAT_CONFIG_VERSION: '2', MOAT_REDIS_SECRET_VERSION: '2' },
    });
    // every service that uses them runs tasks with the new objects
    const uses = async (svc: string) =>
      (await dockerAt(m, 'service', 'inspect', '-f', '{{range .Spec.TaskTemplate.ContainerSpec.Configs}}{{.ConfigName}} {{end}}{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}} {{end}}', `${STACK}_${svc}`)).trim().split(' ');
    for (const s of ['mx1', 'mx2', 'mx3']) expect(await uses(s)).toEqual(expect.arrayContaining(['moat_yaml_2', 'moat_redis_password_2']));
    for (const s of ['redis-a', 'redis-b']) expect(await uses(s)).toEqual(expect.arrayContaining(['moat_redis_sh_2', 'moat_redis_password_2']));
    // the services roll one after another: wait until each has finished its update, then for health
    const deadline = Date.now() + 600_000;
    for (;;) {
      const states = await Promise.all(
        ['mx1', 'mx2', 'mx3', 'redis-a', 'redis-b', 'sentinel-1', 'sentinel-2', 'sentinel-3', 'unbound'].map(async (svc) =>
          (await dockerAt(m, 'service', 'inspect', '-f', '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}', `${STACK}_${svc}`)).trim(),
        ),
      );
      if (states.every((st) => st === 'completed')) break;
      if (Date.now() > deadline) throw new Error(`updates not completed: ${states.join(' ')}`);
      await sleep(2000);
    }
    const convergeS = (Date.now() - t0) / 1000 + (await waitConverged());
    expect(await execIn('mx2', 'tail', '-n', '1', '/etc/moat/conf/moat.yaml')).toContain(marker);
    expect((await execIn('redis-a', 'cat', '/run/secrets/redis_password')).trim()).toBe(password);

    // the greylist works with the new password: a fresh triplet is deferred at one node, passes at another
    const from = freshSender();
    const tagg = freshTag('rot');
    const first = await sendAt('mx1', { from, tag: `${tagg}.a0` });
    await sleep(swarm().greylistDelayMs + 1500);
    const second = await sendAt('mx3', { from, tag: `${tagg}.a1` });
    expect(first).toMatchObject({ stage: 'rcpt', code: 450 });
    expect(second, JSON.stringify(second)).toMatchObject({ stage: 'done', code: 250 });
    await waitDelivered([`${tagg}.a1`]);

    // the old objects are used by nothing: the admin's cleanup removes them, and they are gone
    const old = ['moat_yaml_1', 'moat_redis_sh_1', 'moat_sentinel_sh_1', 'moat_unbound_conf_1'];
    await dockerAt(m, 'config', 'rm', ...old);
    await dockerAt(m, 'secret', 'rm', 'moat_redis_password_1');
    const configs = (await dockerAt(m, 'config', 'ls', '--format', '{{.Name}}')).split('\n').filter(Boolean).sort();
    const secretsNow = (await dockerAt(m, 'secret', 'ls', '--format', '{{.Name}}')).split('\n').filter(Boolean).sort();
    console.log(`rotation: redeployed with version 2 and converged in ${convergeS.toFixed(1)} s; configs now ${configs.join(' ')}; secrets ${secretsNow.join(' ')}`);
    for (const o of old) expect(configs).not.toContain(o);
    expect(secretsNow).not.toContain('moat_redis_password_1');
    expect(configs).toEqual(expect.arrayContaining(['moat_yaml_2', 'moat_redis_sh_2', 'moat_sentinel_sh_2']));
  });
});
