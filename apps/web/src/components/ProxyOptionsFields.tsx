import type { RouteErrors } from '../lib/routeForm';
import type { ProxyOptionsState } from '../lib/proxyOptionsForm';
import { Field, Switch } from './Field';

const text = { autoCapitalize: 'off', spellCheck: false } as const;

/**
 * The options of a proxy host, grouped like Nginx Proxy Manager's tabs (upstream, locations, security, headers),
 * each group a disclosure that opens by itself when it holds a value or an error.
 */
export function ProxyOptionsFields({
  s,
  tls,
  errors,
  onChange,
}: {
  s: ProxyOptionsState;
  tls: 'auto' | 'internal' | 'off';
  errors: RouteErrors;
  onChange: (patch: Partial<ProxyOptionsState>) => void;
}) {
  const has = (...keys: string[]) => keys.some((k) => errors[k]);
  const upstreamOpen =
    s.upstreamScheme === 'https' ||
    s.loadBalancing !== '' ||
    Boolean(s.healthPath || s.passiveMaxFails) ||
    has('options.upstreamScheme', 'options.skipVerify', 'options.loadBalancing', 'options.healthChecks', 'options.healthChecks.passive');
  const securityOpen =
    s.hsts || !s.forceHttps || s.maintenance || Boolean(s.basicAuthText || s.allowText || s.denyText) || has('options.hsts', 'options.forceHttps', 'options.basicAuth', 'options.access.allow', 'options.access.deny');
  return (
    <div className="options stack">
      <details className="options-group" open={upstreamOpen || undefined}>
        <summary>Upstream connection</summary>
        <div className="row-2">
          <Field label="Upstream scheme" error={errors['options.upstreamScheme']} hint="How Caddy talks to the upstreams.">
            <select name="upstreamScheme" value={s.upstreamScheme} onChange={(e) => onChange({ upstreamScheme: e.target.value as 'http' | 'https', ...(e.target.value === 'http' ? { skipVerify: false } : {}) })}>
              <option value="http">HTTP</option>
              <option value="https">HTTPS</option>
            </select>
          </Field>
          <Field label="Load balancing" error={errors['options.loadBalancing']} hint="With several upstreams.">
            <select name="loadBalancing" value={s.loadBalancing} onChange={(e) => onChange({ loadBalancing: e.target.value as ProxyOptionsState['loadBalancing'] })}>
              <option value="">Caddy&apos;s default (random)</option>
              <option value="round_robin">Round robin</option>
              <option value="least_conn">Least connections</option>
              <option value="ip_hash">IP hash (sticky by client)</option>
              <option value="first">First available</option>
              <option value="random">Random</option>
            </select>
          </Field>
        </div>
        <div className="row-2">
          <Field label="Health check path" error={errors['options.healthChecks']} hint="Active check: Caddy requests it on every upstream and takes failing ones out (e.g. /healthz).">
            <input name="healthPath" value={s.healthPath} placeholder="/healthz" onChange={(e) => onChange({ healthPath: e.target.value })} {...text} />
          </Field>
          <Field label="Check every (seconds)" hint="Default 30.">
            <input name="healthInterval" inputMode="numeric" value={s.healthInterval} placeholder="30" onChange={(e) => onChange({ healthInterval: e.target.value })} />
          </Field>
        </div>
        <Field label="Take out after failed requests" error={errors['options.healthChecks.passive']} hint="Passive check: an upstream whose requests fail this many times is skipped for 30 s. Empty: off.">
          <input name="passiveMaxFails" inputMode="numeric" value={s.passiveMaxFails} placeholder="3" onChange={(e) => onChange({ passiveMaxFails: e.target.value })} />
        </Field>
        {s.upstreamScheme === 'https' && (
          <Switch label="Skip certificate verification" checked={s.skipVerify} onChange={(skipVerify) => onChange({ skipVerify })} hint="For upstreams with a self-signed certificate." />
        )}
        {errors['options.skipVerify'] && (
          <small className="field-error" role="alert">
            {errors['options.skipVerify']}
          </small>
        )}
      </details>

      <details className="options-group" open={Boolean(s.locationsText) || has('options.locations') || undefined}>
        <summary>Custom locations</summary>
        <Field label="Locations" error={errors['options.locations']} hint="One per line: /path = host:port[, host:port]. Requests under the path go to those upstreams.">
          <textarea name="locations" rows={2} value={s.locationsText} placeholder="/api = 10.0.0.2:8080" onChange={(e) => onChange({ locationsText: e.target.value })} {...text} />
        </Field>
      </details>

      <details className="options-group" open={securityOpen || undefined}>
        <summary>Security and access</summary>
        <div className="row-2">
          <Switch label="HSTS" checked={s.hsts} onChange={(hsts) => onChange({ hsts })} hint="Browsers keep to HTTPS for a year (needs TLS)." />
          <Switch label="Maintenance page" checked={s.maintenance} onChange={(maintenance) => onChange({ maintenance })} hint="Answer 503 instead of proxying." />
        </div>
        {tls !== 'off' && (
          <Switch label="Force HTTPS" checked={s.forceHttps} onChange={(forceHttps) => onChange({ forceHttps })} hint="Off: plain HTTP is served too, instead of redirected." />
        )}
        {(['options.hsts', 'options.forceHttps'] as const).map(
          (k) =>
            errors[k] && (
              <small key={k} className="field-error" role="alert">
                {errors[k]}
              </small>
            ),
        )}
        <Field label="Basic auth users" error={errors['options.basicAuth']} hint={<>One per line: user:bcrypt hash, e.g. from <code>caddy hash-password</code>. Passwords are never sent or stored.</>}>
          <textarea name="basicAuth" rows={2} value={s.basicAuthText} placeholder="alice:$2a$14$…" onChange={(e) => onChange({ basicAuthText: e.target.value })} {...text} />
        </Field>
        <div className="row-2">
          <Field label="Allow only" error={errors['options.access.allow']} hint="IP addresses or CIDR ranges, one per line; empty allows all.">
            <textarea name="allow" rows={2} value={s.allowText} placeholder="10.0.0.0/8" onChange={(e) => onChange({ allowText: e.target.value })} {...text} />
          </Field>
          <Field label="Deny" error={errors['options.access.deny']} hint="Refused with 403, even when allowed.">
            <textarea name="deny" rows={2} value={s.denyText} placeholder="10.0.0.66" onChange={(e) => onChange({ denyText: e.target.value })} {...text} />
          </Field>
        </div>
      </details>

      <details className="options-group" open={Boolean(s.requestHeadersText || s.responseHeadersText) || has('options.headers.request', 'options.headers.response') || undefined}>
        <summary>Headers</summary>
        <div className="row-2">
          <Field label="Request headers" error={errors['options.headers.request']} hint="To the upstream: Name: value sets, -Name removes; one per line.">
            <textarea name="requestHeaders" rows={2} value={s.requestHeadersText} placeholder={'X-Forwarded-Proto: https\n-X-Debug'} onChange={(e) => onChange({ requestHeadersText: e.target.value })} {...text} />
          </Field>
          <Field label="Response headers" error={errors['options.headers.response']} hint="To the client, same format.">
            <textarea name="responseHeaders" rows={2} value={s.responseHeadersText} placeholder={'X-Frame-Options: DENY\n-Server'} onChange={(e) => onChange({ responseHeadersText: e.target.value })} {...text} />
          </Field>
        </div>
      </details>
    </div>
  );
}
