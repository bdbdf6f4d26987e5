import { useEffect, useState, type FormEvent } from 'react';
import { reprovisionRequestSchema, type FleetNode, type NodeDeleted, type ProvisionJob } from '@caddyfleet/protocol';
import { api } from '../api/client';
import { CopyButton } from '../components/CopyButton';
import { FormFooter } from '../components/FormFooter';
import { Modal } from '../components/Modal';
import { ProvisioningPanel } from '../components/ProvisioningPanel';
import { EMPTY_SSH, SshFields, sshBody, type SshForm } from '../components/SshFields';
import { upsertNode } from '../hooks/useLiveNodes';
import { zodFieldErrors, type FieldErrors } from '../lib/zodErrors';
import { applyApiError } from '../lib/apiErrors';

/** `user@host:port` of a run → the form's target fields (IPv6 hosts come back without brackets). */
export function targetFields(target: string | undefined, fallbackHost: string): Pick<SshForm, 'host' | 'port' | 'user'> {
  const m = target ? /^([^@]+)@(.+):(\d+)$/.exec(target) : null;
  return m ? { user: m[1]!, host: m[2]!.replace(/^\[(.*)\]$/, '$1'), port: m[3]! } : { user: 'root', host: fallbackHost, port: '22' };
}

/** True when the node has a provisioning run to show (a fetch for one would otherwise answer 404). */
export function wasProvisioned(node: FleetNode): boolean {
  return node.sshHostKeySha256 !== null || node.status === 'provisioning' || /^provisioning failed/.test(node.lastError ?? '');
}

/** The last provisioning run of a node (or a note that it was enrolled with a token), re-streamed on `generation`. */
export function ProvisioningSection({ node, generation }: { node: FleetNode; generation: number }) {
  if (!wasProvisioned(node) && generation === 0) {
    return <p className="muted">This server was enrolled with a token, not provisioned over SSH. Re-provision installs and hardens it over SSH.</p>;
  }
  return <ProvisioningPanel nodeId={node.id} generation={generation} />;
}

/** Asks for the SSH login again (it is never stored) and starts a re-provisioning run. */
export function ReprovisionDialog({ node, onClose, onStarted }: { node: FleetNode; onClose: () => void; onStarted: () => void }) {
  const [ssh, setSsh] = useState<SshForm>({ ...EMPTY_SSH, host: node.hostname });
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!wasProvisioned(node)) return;
    api
      .get<ProvisionJob>(`/nodes/${encodeURIComponent(node.id)}/provisioning`)
      .then((job) => setSsh((f) => ({ ...f, ...targetFields(job.target, node.hostname) })))
      .catch(() => {});
    // Only when the dialog opens: later node updates must not overwrite what the user typed.
  }, [node.id]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const raw: Record<string, unknown> = { ssh: sshBody(ssh) };
    if (ssh.hostKey.trim()) raw.hostKeySha256 = ssh.hostKey.trim();
    const parsed = reprovisionRequestSchema.safeParse(raw);
    if (!parsed.success) {
      setErrors(zodFieldErrors(parsed.error));
      return;
    }
    setErrors({});
    setFormError(null);
    setBusy(true);
    try {
      const res = await api.post<{ node: FleetNode; job: ProvisionJob }>(`/nodes/${encodeURIComponent(node.id)}/provision`, parsed.data);
      upsertNode(res.node);
      onStarted();
      onClose();
    } catch (err) {
      applyApiError(err, setErrors, setFormError);
      setBusy(false);
    }
  };

  return (
    <Modal title={`Re-provision ${node.name}`} onClose={onClose} wide>
      <form className="stack" onSubmit={(e) => void submit(e)} noValidate>
        <p className="muted">
          Runs every step again: upgrades the agent, re-applies the hardening and keeps the server&apos;s id and routes. The host key must match
          the one remembered from the first run unless you give the new one.
        </p>
        <SshFields form={ssh} set={(p) => setSsh((f) => ({ ...f, ...p }))} errors={errors} />
        <FormFooter error={formError} busy={busy} onCancel={onClose} busyLabel="Starting…" submitLabel="Re-provision" />
      </form>
    </Modal>
  );
}

/** After a delete: where the routes went, and the commands that remove the agent from the host. */
export function DeletedDialog({ name, result, onClose }: { name: string; result: NodeDeleted; onClose: () => void }) {
  const commands = result.uninstall.join('\n');
  return (
    <Modal title={`Deleted ${name}`} onClose={onClose} wide>
      <div className="stack" data-testid="deleted-node">
        <p>
          {result.reassignedRoutes.length
            ? `${result.reassignedRoutes.length} route(s) moved to the local server.`
            : 'It had no routes to move.'}
          {result.reassignedRoutes.some((r) => !r.enabled) && ' Routes whose domain or port the local server already uses were moved disabled; their note says why.'}
        </p>
        <p>To remove the agent from the host, run these there as root (its hardening — firewall, fail2ban, updates — stays):</p>
        <pre className="code-block" data-testid="uninstall-commands">{commands}</pre>
        <div className="form-actions">
          <CopyButton text={commands} label="Copy commands" />
          <button type="button" className="btn btn-primary" onClick={onClose}>
            Done
          </button>
        </div>
      </div>
    </Modal>
  );
}
