import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api } from '../api/client';
import type { Route, RouteKind } from '../api/types';
import { useLiveNodes } from '../hooks/useLiveNodes';
import { KIND_INFO, STATUS_LABEL, nodeLabel } from '../lib/format';
import { createBody, initialState, newUpstream, patchBody, serverErrors, splitDomains, validate, withDomains, type RouteErrors, type RouteFormState } from '../lib/routeForm';
import { isPrivateName } from '@caddyfleet/protocol';
import { Field, Switch } from './Field';
import { Modal } from './Modal';
import { ProxyOptionsFields } from './ProxyOptionsFields';
import { FormFooter } from './FormFooter';

function UpstreamRows({ rows, errors, onChange }: { rows: RouteFormState['upstreams']; errors: RouteErrors; onChange: (rows: RouteFormState['upstreams']) => void }) {
  const set = (key: number, patch: Partial<{ host: string; port: string }>) => onChange(rows.map((r) => (r.key === key ? { ...r, ...patch } : r)));
  return (
    <fieldset className={errors.upstreams ? 'upstreams field-invalid' : 'upstreams'}>
      <legend>Upstreams</legend>
      <p className="hint">Where requests are forwarded: host name or IP address and port. Several upstreams are load-balanced.</p>
      {rows.map((r, i) => {
        const hostErr = errors[`upstreams.${i}.host`];
        const portErr = errors[`upstreams.${i}.port`];
        return (
          <div className="upstream-row" key={r.key}>
            <div className="field">
              <label htmlFor={`up-host-${r.key}`}>{rows.length > 1 ? `Host ${i + 1}` : 'Host'}</label>
              <input
                id={`up-host-${r.key}`}
                name={`upstream-host-${i}`}
                value={r.host}
                placeholder="192.168.1.10 or app.internal"
                onChange={(e) => set(r.key, { host: e.target.value })}
                aria-invalid={hostErr ? true : undefined}
                aria-describedby={hostErr ? `up-host-err-${r.key}` : undefined}
                autoCapitalize="off"
                spellCheck={false}
              />
              {hostErr && (
                <small className="field-error" id={`up-host-err-${r.key}`} role="alert">
                  {hostErr}
                </small>
              )}
            </div>
            <div className="field field-port">
              <label htmlFor={`up-port-${r.key}`}>Port</label>
              <input
                id={`up-port-${r.key}`}
                name={`upstream-port-${i}`}
                value={r.port}
                inputMode="numeric"
                placeholder="8080"
                onChange={(e) => set(r.key, { port: e.target.value })}
                aria-invalid={portErr ? true : undefined}
                aria-describedby={portErr ? `up-port-err-${r.key}` : undefined}
              />
              {portErr && (
                <small className="field-error" id={`up-port-err-${r.key}`} role="alert">
                  {portErr}
                </small>
              )}
            </div>
            <button
              type="button"
              className="icon-btn"
              aria-label={`Remove upstream ${i + 1}`}
              disabled={rows.length === 1}
              onClick={() => onChange(rows.filter((x) => x.key !== r.key))}
            >
              ×
            </button>
          </div>
        );
      })}
      {errors.upstreams && (
        <small className="field-error" role="alert">
          {errors.upstreams}
        </small>
      )}
      <button type="button" className="btn btn-small" onClick={() => onChange([...rows, newUpstream()])}>
        + Add upstream
      </button>
    </fieldset>
  );
}

/** Create or edit a route of one kind, in a modal. */
export function RouteForm({ kind, route, defaultNodeId, onClose, onSaved }: { kind: RouteKind; route: Route | null; defaultNodeId: string; onClose: () => void; onSaved: (r: Route) => void }) {
  const { nodes } = useLiveNodes();
  const [s, setS] = useState<RouteFormState>(() => initialState(kind, route, defaultNodeId));
  const [errors, setErrors] = useState<RouteErrors>({});
  const [busy, setBusy] = useState(false);
  // An edited route keeps its TLS mode; a new one follows its domain names until the user picks one.
  const [tlsChosen, setTlsChosen] = useState(route !== null);
  const formRef = useRef<HTMLFormElement>(null);
  const update = (patch: Partial<RouteFormState>) => setS((prev) => ({ ...prev, ...patch }));
  const info = KIND_INFO[kind];
  const hasDomains = kind !== 'stream';

  // After a failed submit, move focus to the first field with a problem.
  const [focusTick, setFocusTick] = useState(0);
  useEffect(() => {
    if (!focusTick) return;
    formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [focusTick]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const result = validate(kind, s);
    if ('errors' in result) {
      setErrors(result.errors);
      setFocusTick((t) => t + 1);
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      const saved = route
        ? await api.patch<Route>(`/routes/${encodeURIComponent(route.id)}`, patchBody(result.data))
        : await api.post<Route>('/routes', createBody(result.data));
      onSaved(saved);
    } catch (err) {
      setErrors(serverErrors(err));
      setFocusTick((t) => t + 1);
      setBusy(false);
    }
  };

  const localNode = nodes?.find((n) => n.isLocal);
  // A revoked server serves nothing new; it stays listed only when this route is already on it.
  const others = (nodes ?? []).filter((n) => !n.isLocal && (!n.revokedAt || n.id === s.nodeId));
  const domains = splitDomains(s.domainsText);
  const privateNames = domains.length > 0 && domains.every(isPrivateName);
  const knownNode = !s.nodeId || others.some((n) => n.id === s.nodeId);
  // A server started with --no-local-node lists no local node: the first agent becomes the default target.
  const noLocal = nodes !== undefined && nodes !== null && !localNode;
  const firstOther = others[0]?.id;
  useEffect(() => {
    if (noLocal && !s.nodeId && firstOther) update({ nodeId: firstOther });
  }, [noLocal, s.nodeId, firstOther]);
  const chosenNode = s.nodeId ? others.find((n) => n.id === s.nodeId) : localNode;
  // Known only once the server's agent reported its modules; the controller refuses the stream either way.
  const noLayer4 = kind === 'stream' && chosenNode?.caddyModules != null && !chosenNode.caddyModules.includes('layer4');

  return (
    <Modal title={route ? `Edit ${info.singular}` : `New ${info.singular}`} onClose={onClose} wide>
      <form ref={formRef} className="route-form stack" onSubmit={(e) => void submit(e)} noValidate>
        <Field
          label="Server"
          error={errors.nodeId ?? (noLayer4 ? "This server's Caddy has no layer4 module, so it cannot serve streams." : undefined)}
          hint="The Caddy server that serves this route."
        >
          <select name="nodeId" value={s.nodeId} onChange={(e) => update({ nodeId: e.target.value })}>
            {(localNode || !noLocal) && <option value="">{nodeLabel(localNode, null)}</option>}
            {noLocal && others.length === 0 && <option value="">No server has joined yet</option>}
            {others.map((n) => (
              <option key={n.id} value={n.id}>
                {n.name}
                {n.revokedAt ? ' — revoked' : n.status !== 'online' ? ` — ${STATUS_LABEL[n.status]}` : ''}
              </option>
            ))}
            {!knownNode && <option value={s.nodeId}>{s.nodeId}</option>}
          </select>
        </Field>

        {hasDomains && (
          <Field label="Domain names" error={errors.domains} hint="One per line. A wildcard like *.example.com covers every subdomain.">
            <textarea
              name="domains"
              rows={3}
              value={s.domainsText}
              placeholder={'app.example.com\nwww.app.example.com'}
              onChange={(e) => {
                const text = e.target.value;
                setS((prev) => withDomains(prev, text, tlsChosen));
              }}
              autoCapitalize="off"
              spellCheck={false}
            />
          </Field>
        )}

        {kind === 'stream' && (
          <div className="row-2">
            <Field label="Listen port" error={errors['listen.port']} hint="The port the server listens on.">
              <input name="listenPort" inputMode="numeric" value={s.listenPort} placeholder="5432" onChange={(e) => update({ listenPort: e.target.value })} />
            </Field>
            <Field label="Protocol" error={errors['listen.protocol']}>
              <select name="listenProtocol" value={s.listenProtocol} onChange={(e) => update({ listenProtocol: e.target.value as 'tcp' | 'udp' })}>
                <option value="tcp">TCP</option>
                <option value="udp">UDP</option>
              </select>
            </Field>
          </div>
        )}

        {(kind === 'proxy' || kind === 'stream') && <UpstreamRows rows={s.upstreams} errors={errors} onChange={(upstreams) => update({ upstreams })} />}

        {kind === 'stream' && (
          <div className="row-2">
            <Field
              label="TLS server names (SNI)"
              error={errors.sni}
              hint="Optional, TCP only: one per line. Streams with different names can share a port; the TLS connection is passed through to the upstream untouched."
            >
              <textarea
                name="sni"
                rows={2}
                value={s.sniText}
                placeholder={'db.example.com\n*.example.com'}
                onChange={(e) => update({ sniText: e.target.value })}
                autoCapitalize="off"
                spellCheck={false}
              />
            </Field>
            <Field label="PROXY protocol" error={errors.proxyProtocol} hint="Tells the upstream the client's address (the upstream must expect it).">
              <select name="proxyProtocol" value={s.proxyProtocol} onChange={(e) => update({ proxyProtocol: e.target.value as RouteFormState['proxyProtocol'] })}>
                <option value="">Off</option>
                <option value="v1">v1 (text)</option>
                <option value="v2">v2 (binary)</option>
              </select>
            </Field>
          </div>
        )}

        {kind === 'redirect' && (
          <>
            <Field label="Redirect to" error={errors['redirect.to']} hint="An absolute URL, e.g. https://www.example.com">
              <input name="redirectTo" value={s.redirectTo} placeholder="https://www.example.com" onChange={(e) => update({ redirectTo: e.target.value })} autoCapitalize="off" spellCheck={false} />
            </Field>
            <div className="row-2">
              <Field label="Status code" error={errors['redirect.status']}>
                <select name="redirectStatus" value={s.redirectStatus} onChange={(e) => update({ redirectStatus: e.target.value as RouteFormState['redirectStatus'] })}>
                  <option value="301">301 Moved permanently</option>
                  <option value="302">302 Found (temporary)</option>
                  <option value="307">307 Temporary, keeps method</option>
                  <option value="308">308 Permanent, keeps method</option>
                </select>
              </Field>
              <Switch label="Keep the path" checked={s.preservePath} onChange={(preservePath) => update({ preservePath })} hint="/docs?x=1 → target/docs?x=1" />
            </div>
          </>
        )}

        {kind !== 'stream' && (
          <Field
            label="TLS"
            error={errors.tls}
            hint={
              kind === 'redirect' && s.tls === 'off'
                ? 'Only the HTTP port answers with this redirect; HTTPS for these names is left alone (for a TLS-passthrough stream host or another server).'
                : privateNames
                  ? 'No public certificate can be issued for these names (local, test or IP): plain HTTP unless you pick Caddy\'s internal CA.'
                  : 'Automatic HTTPS needs the domain to point at the server and ports 80/443 reachable.'
            }
          >
            <select
              name="tls"
              value={s.tls}
              onChange={(e) => {
                setTlsChosen(true);
                update({ tls: e.target.value as RouteFormState['tls'] });
              }}
            >
              <option value="auto">HTTPS with an automatic public certificate</option>
              <option value="internal">HTTPS with Caddy&apos;s internal CA (self-signed)</option>
              <option value="off">{kind === 'redirect' ? 'Redirect the HTTP port only (no TLS; HTTPS left alone)' : 'HTTP only, no TLS'}</option>
            </select>
          </Field>
        )}

        {kind === 'proxy' && <ProxyOptionsFields s={s.options} tls={s.tls} errors={errors} onChange={(patch) => update({ options: { ...s.options, ...patch } })} />}

        <Switch label="Enabled" checked={s.enabled} onChange={(enabled) => update({ enabled })} hint="Disabled routes are kept but not served." />

        <FormFooter error={errors._form} busy={busy} onCancel={onClose} busyLabel="Saving…" submitLabel={route ? 'Save changes' : `Create ${info.singular}`} />
      </form>
    </Modal>
  );
}
