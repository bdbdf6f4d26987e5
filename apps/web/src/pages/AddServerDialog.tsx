import { useState, type FormEvent } from 'react';
import { provisionRequestSchema, type FleetNode, type ProvisionJob } from '@caddyfleet/protocol';
import { api } from '../api/client';
import { Field } from '../components/Field';
import { DialogClose, FormFooter } from '../components/FormFooter';
import { Modal } from '../components/Modal';
import { SiteSelect } from '../components/SiteSelect';
import { ProvisioningPanel } from '../components/ProvisioningPanel';
import { EMPTY_SSH, SshFields, sshBody, type SshForm } from '../components/SshFields';
import { ErrorNote, Loading } from '../components/States';
import { useHierarchy } from '../hooks/useHierarchy';
import { upsertNode } from '../hooks/useLiveNodes';
import { applyApiError } from '../lib/apiErrors';
import { Link } from '../lib/router';
import { zodFieldErrors, type FieldErrors } from '../lib/zodErrors';

/**
 * Servers → Add server: name, site, SSH login → Provision. The dialog then follows the run live (steps and a
 * terminal) until the server is online or a step failed.
 */
export function AddServerDialog({ onClose }: { onClose: () => void }) {
  const { siteOptions, error, reload } = useHierarchy();
  const [name, setName] = useState('');
  const [siteId, setSiteId] = useState('');
  const [ssh, setSsh] = useState<SshForm>(EMPTY_SSH);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [started, setStarted] = useState<FleetNode | null>(null);
  const chosen = siteId || siteOptions?.[0]?.site.id || '';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const raw: Record<string, unknown> = { name, siteId: chosen, ssh: sshBody(ssh) };
    if (ssh.hostKey.trim()) raw.hostKeySha256 = ssh.hostKey.trim();
    const parsed = provisionRequestSchema.safeParse(raw);
    if (!parsed.success) {
      setErrors(zodFieldErrors(parsed.error));
      setFormError(null);
      return;
    }
    setErrors({});
    setFormError(null);
    setBusy(true);
    try {
      const res = await api.post<{ node: FleetNode; job: ProvisionJob }>('/nodes/provision', parsed.data);
      upsertNode(res.node);
      setSsh(EMPTY_SSH);
      setStarted(res.node);
    } catch (err) {
      applyApiError(err, setErrors, setFormError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={started ? `Provisioning ${started.name}` : 'Add server'} onClose={onClose} wide>
      {started ? (
        <div className="stack">
          <ProvisioningPanel nodeId={started.id} />
          <DialogClose onClose={onClose}>
            <Link to={`/servers/${encodeURIComponent(started.id)}`} className="btn">
              Open {started.name}
            </Link>
          </DialogClose>
        </div>
      ) : error ? (
        <ErrorNote error={error} onRetry={reload} />
      ) : !siteOptions ? (
        <Loading what="sites" />
      ) : (
        <form className="stack" onSubmit={(e) => void submit(e)} noValidate>
          <p className="muted">
            The controller logs in over SSH (Debian or Ubuntu), installs Caddy and the agent, sets up a firewall, fail2ban, unattended upgrades
            and kernel network hardening, and waits until the server is online. The login is used for this run only and never stored.
          </p>
          <div className="field-row">
            <Field label="Name" error={errors.name} className="grow">
              <input value={name} onChange={(ev) => setName(ev.target.value)} placeholder="edge-1" autoComplete="off" />
            </Field>
            <Field label="Site" error={errors.siteId} className="grow">
              <SiteSelect options={siteOptions} value={chosen} onChange={setSiteId} />
            </Field>
          </div>
          <SshFields form={ssh} set={(p) => setSsh((f) => ({ ...f, ...p }))} errors={errors} />
          <FormFooter error={formError} busy={busy} onCancel={onClose} busyLabel="Starting…" submitLabel="Provision" />
        </form>
      )}
    </Modal>
  );
}
