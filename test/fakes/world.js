'use strict';
// The world the fake kind, clusterctl, kubectl, docker and age CLIs share.
//
// State lives in one JSON file (FAKE_STATE, created when missing): kind clusters, API servers
// (one per kind cluster and per management cluster Cluster API created, each reached through
// `server: https://127.0.0.1:<port>` in its kubeconfig), the objects each server stores, the
// clusterctl provider inventory, Docker containers, and a history of destructive events the tests
// assert on. A scenario file (FAKE_SCENARIO, JSON, see world.d.ts) injects behaviour. Every
// invocation appends one JSON line to FAKE_LOG (argv, environment variable NAMES, modes of the
// kubeconfig/config files passed, whether a default kubeconfig would have been used).
//
// Controllers are simulated: every kubectl call against a server is one "tick" of that server's
// clock, and on each tick provider Deployments become Available, webhooks start answering and
// every unpaused Cluster advances one stage (infrastructure provisioned -> control plane
// initialized (the management cluster's API server and its <name>-kubeconfig Secret appear) ->
// control plane available (workers get a nodeRef) -> workers available).

const fs = require('fs');
const path = require('path');
const { providerKinds } = require('./crds.js');

const START_MS = Date.now();
const DEFAULT_VERSIONS = { kind: '0.29.0', clusterctl: '1.14.0', kubectl: '1.33.1', docker: '28.1.1', age: '1.2.1' };
const CERT_MANAGER_VERSION = 'v1.21.1';

// ---------------------------------------------------------------------------------------------
// Resource registry: the built-in kinds the steps use, then every kind the providers' upstream CRDs
// declare (crds.js), with their plurals, short names, scope and served versions.
function K(kind, group, version, plural, o = {}) {
  return {
    kind, group, version, plural,
    namespaced: o.namespaced !== false,
    short: o.short || [],
    provider: null, // built in
    served: [version],
    deprecated: [],
  };
}
const KINDS = [
  K('Namespace', '', 'v1', 'namespaces', { namespaced: false, short: ['ns'] }),
  K('Secret', '', 'v1', 'secrets'),
  K('ConfigMap', '', 'v1', 'configmaps', { short: ['cm'] }),
  K('Node', '', 'v1', 'nodes', { namespaced: false, short: ['no'] }),
  K('Deployment', 'apps', 'v1', 'deployments', { short: ['deploy'] }),
  K('CustomResourceDefinition', 'apiextensions.k8s.io', 'v1', 'customresourcedefinitions', { namespaced: false, short: ['crd', 'crds'] }),
  ...providerKinds(),
];
const kindId = (k) => (k.group ? `${k.kind}.${k.group}` : k.kind);
const KIND_BY_ID = Object.fromEntries(KINDS.map((k) => [kindId(k), k]));

// Providers clusterctl knows (clusterctl config repositories), with the components the fake installs.
const PROVIDERS = {
  'CoreProvider/cluster-api': { label: 'cluster-api', namespace: 'capi-system', deployment: 'capi-controller-manager', latest: 'v1.14.0' },
  'BootstrapProvider/kubeadm': { label: 'bootstrap-kubeadm', namespace: 'capi-kubeadm-bootstrap-system', deployment: 'capi-kubeadm-bootstrap-controller-manager', latest: 'v1.14.0' },
  'ControlPlaneProvider/kubeadm': { label: 'control-plane-kubeadm', namespace: 'capi-kubeadm-control-plane-system', deployment: 'capi-kubeadm-control-plane-controller-manager', latest: 'v1.14.0' },
  'InfrastructureProvider/docker': { label: 'infrastructure-docker', namespace: 'capd-system', deployment: 'capd-controller-manager', latest: 'v1.14.0' },
  'InfrastructureProvider/aws': { label: 'infrastructure-aws', namespace: 'capa-system', deployment: 'capa-controller-manager', latest: 'v2.11.1', variables: ['AWS_B64ENCODED_CREDENTIALS'] },
  'AddonProvider/helm': { label: 'addon-helm', namespace: 'caaph-system', deployment: 'caaph-controller-manager', latest: 'v0.6.4' },
};
const PROVIDER_TYPE_ORDER = ['CoreProvider', 'BootstrapProvider', 'ControlPlaneProvider', 'InfrastructureProvider', 'AddonProvider'];

// ---------------------------------------------------------------------------------------------
// Small utilities.
const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s) => Buffer.from(s, 'base64').toString('utf8');
const clone = (o) => (o === undefined ? undefined : JSON.parse(JSON.stringify(o)));
const okey = (ns, name) => `${ns || ''}/${name}`;
const modeOf = (p) => {
  try { return '0' + (fs.statSync(p).mode & 0o777).toString(8); } catch { return null; }
};

function versionCmp(a, b) {
  const pa = String(a).replace(/^v/, '').split(/[-+]/)[0].split('.').map((x) => Number(x) || 0);
  const pb = String(b).replace(/^v/, '').split(/[-+]/)[0].split('.').map((x) => Number(x) || 0);
  for (let i = 0; i < 3; i++) { if ((pa[i] || 0) !== (pb[i] || 0)) return (pa[i] || 0) < (pb[i] || 0) ? -1 : 1; }
  return 0;
}

function kubeconfigYaml({ clusterName, contextName, userName, port, caData, certData, keyData }) {
  return [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${caData}`,
    `    server: https://127.0.0.1:${port}`,
    `  name: ${clusterName}`,
    'contexts:',
    '- context:',
    `    cluster: ${clusterName}`,
    `    user: ${userName}`,
    `  name: ${contextName}`,
    `current-context: ${contextName}`,
    'kind: Config',
    'preferences: {}',
    'users:',
    `- name: ${userName}`,
    '  user:',
    `    client-certificate-data: ${certData}`,
    `    client-key-data: ${keyData}`,
    '',
  ].join('\n');
}

function serverPortFromKubeconfig(text) {
  const m = /server:\s*["']?https?:\/\/(?:127\.0\.0\.1|localhost|[^:\s]+):(\d+)/.exec(text);
  return m ? Number(m[1]) : null;
}

// ---------------------------------------------------------------------------------------------
class World {
  static open() {
    const statePath = process.env.FAKE_STATE;
    if (!statePath) throw new Error('FAKE_STATE is not set: the fakes need a world state file');
    return new World(statePath, process.env.FAKE_SCENARIO);
  }

  constructor(statePath, scenarioPath) {
    this.statePath = statePath;
    this.scenarioPath = scenarioPath;
    this.st = fs.existsSync(statePath) ? JSON.parse(fs.readFileSync(statePath, 'utf8')) : World.emptyState();
    this.sc = scenarioPath && fs.existsSync(scenarioPath) ? JSON.parse(fs.readFileSync(scenarioPath, 'utf8')) : {};
  }

  static emptyState() {
    return { nextPort: 40001, seq: 0, kind: {}, servers: {}, docker: { containers: [] }, history: [], ruleUse: {}, managementClustersCreated: {} };
  }

  save() {
    const tmp = `${this.statePath}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.st));
    fs.renameSync(tmp, this.statePath);
  }

  version(tool) {
    return (this.sc.versions && this.sc.versions[tool]) || DEFAULT_VERSIONS[tool];
  }

  // Deterministic pseudo-random lowercase suffixes (like the names controllers generate).
  rand(len, alphabet = 'bcdfghjklmnpqrstvwxz2456789') {
    let x = (++this.st.seq * 2654435761) >>> 0;
    let s = '';
    for (let i = 0; i < len; i++) { x = (x * 1103515245 + 12345) >>> 0; s += alphabet[(x >>> 16) % alphabet.length]; }
    return s;
  }

  record(event) {
    this.st.history.push({ seq: ++this.st.seq, ...event });
  }

  // ------------------------------------------------------------------ scenario fault rules
  // scenario.fail = { "<tool> <word> ...": [rule, ...] }; a rule matches when every word of the
  // key appears in argv in that order (flags are ignored for matching) and its argv/notArgv hold.
  matchRule(tool, argv) {
    const rules = this.sc.fail || {};
    for (const [key, list] of Object.entries(rules)) {
      const words = key.trim().split(/\s+/);
      if (words[0] !== tool) continue;
      let i = 0;
      for (const a of argv) if (i < words.length - 1 && a === words[i + 1]) i++;
      if (i !== words.length - 1) continue;
      for (let r = 0; r < list.length; r++) {
        const rule = list[r];
        if (rule.argv && !rule.argv.every((a) => argv.includes(a))) continue;
        if (rule.notArgv && rule.notArgv.some((a) => argv.includes(a))) continue;
        const id = `${key}#${r}`;
        const seen = this.st.ruleUse[id] || 0;
        this.st.ruleUse[id] = seen + 1;
        const skip = rule.skip || 0;
        if (seen < skip) continue;
        const times = rule.times === undefined ? Infinity : rule.times;
        if (seen - skip >= times) continue;
        return rule;
      }
    }
    return null;
  }

  // ------------------------------------------------------------------ servers and objects
  server(port) {
    return this.st.servers[String(port)] || null;
  }

  serverByName(name) {
    return Object.values(this.st.servers).find((s) => s.name === name) || null;
  }

  newServer(name, origin) {
    const port = this.st.nextPort++;
    const srv = {
      port, name, origin, reachable: true, clock: 0, calls: 0, installed: [], objects: {},
      sim: { clusters: {}, deployments: {} }, webhookReadyAt: null,
      clientKey: `FAKE-${origin.toUpperCase()}-CLIENT-KEY-${name}-${port}`,
    };
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) this.put(srv, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    this.st.servers[String(port)] = srv;
    return srv;
  }

  kubeconfigFor(srv) {
    const names = srv.origin === 'kind'
      ? { clusterName: `kind-${srv.name}`, contextName: `kind-${srv.name}`, userName: `kind-${srv.name}` }
      : { clusterName: srv.name, contextName: `${srv.name}-admin@${srv.name}`, userName: `${srv.name}-admin` };
    return kubeconfigYaml({
      ...names,
      port: srv.port,
      caData: b64(`FAKE-CA-CERT-${srv.name}`),
      certData: b64(`FAKE-CLIENT-CERT-${srv.name}`),
      keyData: b64(srv.clientKey),
    });
  }

  isReachable(srv) {
    if (!srv || !srv.reachable) return false;
    if ((this.sc.unreachable || []).includes(srv.name)) return false;
    const flap = this.sc.flap && this.sc.flap[srv.name];
    if (flap) {
      srv.calls++;
      if (srv.calls % flap === 0) return false;
    }
    return true;
  }

  kindInfo(apiVersionOrGroup, kind) {
    const group = apiVersionOrGroup.includes('/') ? apiVersionOrGroup.split('/')[0] : apiVersionOrGroup === 'v1' ? '' : apiVersionOrGroup;
    return KIND_BY_ID[group ? `${kind}.${group}` : kind] || null;
  }

  installed(srv, info) {
    return info.provider === null || srv.installed.includes(info.provider);
  }

  // Resolve a kubectl resource argument (plural, plural.group, singular, kind, short name).
  resolve(srv, arg) {
    const a = arg.toLowerCase();
    for (const k of KINDS) {
      const names = [k.plural, k.kind.toLowerCase(), ...k.short];
      const full = k.group ? names.flatMap((n) => [n, `${n}.${k.group}`]) : names;
      if (full.includes(a)) {
        if (!this.installed(srv, k)) continue;
        return k;
      }
    }
    return null;
  }

  put(srv, obj) {
    const info = this.kindInfo(obj.apiVersion || 'v1', obj.kind);
    const id = info ? kindId(info) : obj.kind;
    srv.objects[id] = srv.objects[id] || {};
    const k = okey(info && !info.namespaced ? '' : obj.metadata.namespace, obj.metadata.name);
    const prev = srv.objects[id][k];
    obj.metadata.uid = (prev && prev.metadata.uid) || `uid-${this.rand(8, '0123456789abcdef')}`;
    obj.metadata.resourceVersion = String(++this.st.seq);
    if (!obj.metadata.creationTimestamp) obj.metadata.creationTimestamp = (prev && prev.metadata.creationTimestamp) || '2026-01-01T00:00:00Z';
    srv.objects[id][k] = obj;
    return obj;
  }

  // CustomResourceDefinitions are derived from what is installed (never stored).
  crdObjects(srv) {
    return KINDS.filter((k) => k.provider !== null && this.installed(srv, k)).map((k) => ({
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition',
      metadata: { name: `${k.plural}.${k.group}`, labels: k.provider === 'flux' ? {} : { 'clusterctl.cluster.x-k8s.io': '', 'cluster.x-k8s.io/provider': k.provider } },
      spec: { group: k.group, names: { kind: k.kind, plural: k.plural }, scope: k.namespaced ? 'Namespaced' : 'Cluster', versions: k.served.map((v) => ({ name: v, served: true, storage: v === k.version })) },
      status: { conditions: [{ type: 'Established', status: this.crdEstablished(srv, k.provider) ? 'True' : 'False' }] },
    }));
  }

  crdEstablished(srv, provider) {
    const at = ((srv.sim || {}).crdsEstablishedAt || {})[provider];
    return at === undefined || srv.clock >= at;
  }

  get(srv, info, ns, name) {
    if (info.kind === 'CustomResourceDefinition') return this.crdObjects(srv).find((c) => c.metadata.name === name) || null;
    const bucket = srv.objects[kindId(info)] || {};
    return bucket[okey(info.namespaced ? ns : '', name)] || null;
  }

  list(srv, info, ns) {
    if (info.kind === 'CustomResourceDefinition') return this.crdObjects(srv);
    const bucket = srv.objects[kindId(info)] || {};
    return Object.values(bucket)
      .filter((o) => ns === undefined || !info.namespaced || o.metadata.namespace === ns)
      .sort((x, y) => okey(x.metadata.namespace, x.metadata.name).localeCompare(okey(y.metadata.namespace, y.metadata.name)));
  }

  remove(srv, info, ns, name) {
    const bucket = srv.objects[kindId(info)] || {};
    delete bucket[okey(info.namespaced ? ns : '', name)];
  }

  K(kind, group) { return KIND_BY_ID[group ? `${kind}.${group}` : kind]; }

  // ------------------------------------------------------------------ kind clusters
  createKindCluster(name, image) {
    const srv = this.newServer(name, 'kind');
    this.st.kind[name] = { port: srv.port, image: image || 'kindest/node:v1.33.1' };
    this.addContainer(`${name}-control-plane`, { 'io.x-k8s.kind.cluster': name, 'io.x-k8s.kind.role': 'control-plane' }, image || 'kindest/node:v1.33.1');
    // kind creates the `kind` Docker network with its first cluster and never deletes it.
    this.st.docker.networks = [...new Set([...(this.st.docker.networks || []), 'kind'])];
    this.record({ event: 'kind-create', name });
    return srv;
  }

  // event 'kind-delete' is `kind delete cluster`; tests use 'kind-vanished' for a cluster that is
  // simply not on this machine (created on another one, or lost with a Docker reset).
  deleteKindCluster(name, event = 'kind-delete') {
    const rec = this.st.kind[name];
    if (!rec) return false;
    const srv = this.server(rec.port);
    const held = srv ? this.list(srv, this.K('Cluster', 'cluster.x-k8s.io')).map((c) => okey(c.metadata.namespace, c.metadata.name)) : [];
    this.record({ event, name, heldClusters: held });
    if (srv) delete this.st.servers[String(srv.port)];
    delete this.st.kind[name];
    this.st.docker.containers = this.st.docker.containers.filter((c) => c.labels['io.x-k8s.kind.cluster'] !== name);
    return true;
  }

  addContainer(name, labels, image) {
    if (this.st.docker.containers.some((c) => c.name === name)) return;
    this.st.docker.containers.push({ id: this.rand(12, '0123456789abcdef'), name, labels, image, status: 'Up 1 minute' });
  }

  // ------------------------------------------------------------------ clusterctl providers
  providerInventory(srv) {
    const info = this.K('Provider', 'clusterctl.cluster.x-k8s.io');
    return this.installed(srv, info) ? this.list(srv, info) : [];
  }

  ensureNamespace(srv, ns) {
    const nsInfo = this.K('Namespace');
    if (!this.get(srv, nsInfo, '', ns)) this.put(srv, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  }

  addDeployment(srv, ns, name, labels, image) {
    this.ensureNamespace(srv, ns);
    const delay = this.sc.deploymentReadyTicks === undefined ? 2 : this.sc.deploymentReadyTicks;
    this.put(srv, {
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name, namespace: ns, labels },
      spec: { replicas: 1, selector: { matchLabels: { 'control-plane': 'controller-manager' } }, template: { spec: { containers: [{ name: 'manager', image }] } } },
      status: { conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }] },
    });
    srv.sim.deployments[okey(ns, name)] = { readyAt: srv.clock + delay };
  }

  installCertManager(srv) {
    const labels = { 'clusterctl.cluster.x-k8s.io': '', 'clusterctl.cluster.x-k8s.io/core': 'cert-manager' };
    for (const d of ['cert-manager', 'cert-manager-cainjector', 'cert-manager-webhook']) {
      this.addDeployment(srv, 'cert-manager', d, { ...labels, app: d }, `quay.io/jetstack/${d}:${CERT_MANAGER_VERSION}`);
    }
    srv.installed.push('cert-manager');
  }

  // Installs one provider's components and its inventory entry, like clusterctl init does.
  installProvider(srv, type, name, version, env) {
    const p = PROVIDERS[`${type}/${name}`];
    if (!p) throw new Error(`unknown provider ${type}/${name}`);
    if (!srv.installed.includes('clusterctl')) srv.installed.push('clusterctl');
    this.ensureNamespace(srv, p.namespace);
    if (!srv.installed.includes(p.label)) srv.installed.push(p.label);
    this.addDeployment(srv, p.namespace, p.deployment, { 'clusterctl.cluster.x-k8s.io': '', 'cluster.x-k8s.io/provider': p.label, 'control-plane': 'controller-manager' }, `registry.k8s.io/cluster-api/${p.deployment}:${version}`);
    if (name === 'aws' && env && env.AWS_B64ENCODED_CREDENTIALS !== undefined) {
      this.put(srv, {
        apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
        metadata: { name: 'capa-manager-bootstrap-credentials', namespace: p.namespace, labels: { 'clusterctl.cluster.x-k8s.io': '', 'cluster.x-k8s.io/provider': p.label } },
        data: { credentials: env.AWS_B64ENCODED_CREDENTIALS },
      });
    }
    // Its CRDs become Established a few ticks later, as on a real API server.
    srv.sim.crdsEstablishedAt = srv.sim.crdsEstablishedAt || {};
    srv.sim.crdsEstablishedAt[p.label] = srv.clock + (this.sc.crdEstablishedTicks === undefined ? 0 : this.sc.crdEstablishedTicks);
    this.put(srv, {
      apiVersion: 'clusterctl.cluster.x-k8s.io/v1alpha3', kind: 'Provider',
      metadata: { name: p.label, namespace: p.namespace, labels: { 'clusterctl.cluster.x-k8s.io': '', 'cluster.x-k8s.io/provider': p.label } },
      providerName: name, type, version,
    });
  }

  deploymentAvailable(srv, ns, name) {
    const d = this.get(srv, this.K('Deployment', 'apps'), ns, name);
    return !!d && (d.status.conditions || []).some((c) => c.type === 'Available' && c.status === 'True');
  }

  providerAvailable(srv, label) {
    const entry = Object.values(PROVIDERS).find((p) => p.label === label);
    return !!entry && srv.installed.includes(label) && this.deploymentAvailable(srv, entry.namespace, entry.deployment);
  }

  webhooksReady(srv) {
    return srv.webhookReadyAt !== null && srv.clock >= srv.webhookReadyAt;
  }

  // ------------------------------------------------------------------ controller simulation
  tick(srv) {
    srv.clock++;
    const depInfo = this.K('Deployment', 'apps');
    for (const [k, sim] of Object.entries(srv.sim.deployments)) {
      const [ns, name] = k.split('/');
      const d = this.get(srv, depInfo, ns, name);
      if (!d) continue;
      const ready = srv.clock >= sim.readyAt;
      d.status = {
        replicas: 1, readyReplicas: ready ? 1 : 0, availableReplicas: ready ? 1 : 0,
        conditions: [ready
          ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
          : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }],
      };
    }
    if (srv.webhookReadyAt === null && this.deploymentAvailable(srv, 'capi-system', 'capi-controller-manager')) {
      srv.webhookReadyAt = srv.clock + (this.sc.webhookDelayTicks === undefined ? 1 : this.sc.webhookDelayTicks);
    }
    const clusterInfo = this.K('Cluster', 'cluster.x-k8s.io');
    for (const c of this.list(srv, clusterInfo)) this.reconcileCluster(srv, c);
  }

  infraKindOf(cluster) {
    return ((cluster.spec || {}).infrastructureRef || {}).kind || 'DevCluster';
  }

  // The provider serving the Cluster's infrastructure kind (CAPD: Dev* and Docker*; CAPA: AWS*).
  infraLabelOf(cluster) {
    const info = this.K(this.infraKindOf(cluster), 'infrastructure.cluster.x-k8s.io');
    return info ? info.provider : 'infrastructure-docker';
  }

  stallFor(cluster) {
    const s = (this.sc.clusters || {})[cluster.metadata.name];
    return s || null;
  }

  machinesOf(srv, cluster) {
    return this.list(srv, this.K('Machine', 'cluster.x-k8s.io'), cluster.metadata.namespace)
      .filter((m) => (m.metadata.labels || {})['cluster.x-k8s.io/cluster-name'] === cluster.metadata.name);
  }

  newMachine(srv, cluster, ownerName, controlPlane) {
    const ns = cluster.metadata.namespace;
    const name = controlPlane ? `${ownerName}-${this.rand(5)}` : `${ownerName}-${this.rand(5)}-${this.rand(5)}`;
    const labels = { 'cluster.x-k8s.io/cluster-name': cluster.metadata.name };
    if (controlPlane) labels['cluster.x-k8s.io/control-plane'] = '';
    else labels['cluster.x-k8s.io/deployment-name'] = ownerName;
    this.put(srv, {
      apiVersion: 'cluster.x-k8s.io/v1beta2', kind: 'Machine',
      metadata: { name, namespace: ns, labels },
      spec: { clusterName: cluster.metadata.name, bootstrap: { configRef: { kind: 'KubeadmConfig', name } }, infrastructureRef: { kind: this.infraKindOf(cluster).replace(/Cluster$/, 'Machine'), name } },
    });
    if (this.infraLabelOf(cluster) === 'infrastructure-docker') {
      this.addContainer(`${cluster.metadata.name}-${name}`, { 'io.x-k8s.kind.cluster': cluster.metadata.name, 'io.x-k8s.kind.role': controlPlane ? 'control-plane' : 'worker' }, 'kindest/node:v1.33.1');
    }
    return name;
  }

  createMachines(srv, cluster) {
    const ns = cluster.metadata.namespace;
    const cpRef = (cluster.spec || {}).controlPlaneRef || {};
    const kcps = this.list(srv, this.K('KubeadmControlPlane', 'controlplane.cluster.x-k8s.io'), ns);
    const kcp = kcps.find((k) => k.metadata.name === cpRef.name) || kcps[0];
    const cpReplicas = kcp ? ((kcp.spec || {}).replicas === undefined ? 1 : kcp.spec.replicas) : 1;
    for (let i = 0; i < cpReplicas; i++) this.newMachine(srv, cluster, kcp ? kcp.metadata.name : `${cluster.metadata.name}-control-plane`, true);
    const mds = this.list(srv, this.K('MachineDeployment', 'cluster.x-k8s.io'), ns).filter((md) => ((md.spec || {}).clusterName || cluster.metadata.name) === cluster.metadata.name);
    for (const md of mds) {
      const n = (md.spec || {}).replicas === undefined ? 1 : md.spec.replicas;
      for (let i = 0; i < n; i++) this.newMachine(srv, cluster, md.metadata.name, false);
    }
  }

  // The management cluster's own API server appears when its control plane initializes.
  createManagementServer(srv, cluster, sim) {
    const name = cluster.metadata.name;
    this.st.managementClustersCreated[name] = (this.st.managementClustersCreated[name] || 0) + 1;
    const perm = this.newServer(name, 'capi');
    sim.permanentPort = perm.port;
    this.record({ event: 'management-cluster-created', name, port: perm.port, by: srv.name });
    if (this.infraLabelOf(cluster) === 'infrastructure-docker') {
      this.addContainer(`${name}-lb`, { 'io.x-k8s.kind.cluster': name, 'io.x-k8s.kind.role': 'external-load-balancer' }, 'kindest/haproxy:v20230606-42a2262b');
    }
    const ns = cluster.metadata.namespace;
    const labels = { 'cluster.x-k8s.io/cluster-name': name };
    this.put(srv, {
      apiVersion: 'v1', kind: 'Secret', type: 'cluster.x-k8s.io/secret',
      metadata: { name: `${name}-kubeconfig`, namespace: ns, labels },
      data: { value: b64(this.kubeconfigFor(perm)) },
    });
    this.put(srv, {
      apiVersion: 'v1', kind: 'Secret', type: 'cluster.x-k8s.io/secret',
      metadata: { name: `${name}-ca`, namespace: ns, labels },
      data: { 'tls.crt': b64(`FAKE-CA-CERT-${name}`), 'tls.key': b64(`FAKE-CA-KEY-${name}`) },
    });
  }

  reconcileCluster(srv, cluster) {
    const k = okey(cluster.metadata.namespace, cluster.metadata.name);
    const sim = srv.sim.clusters[k] || (srv.sim.clusters[k] = { stage: 0 });
    const paused = (cluster.spec || {}).paused === true || ((cluster.metadata.annotations || {})['cluster.x-k8s.io/paused'] !== undefined);
    if (paused) return;
    const needed = ['cluster-api', 'bootstrap-kubeadm', 'control-plane-kubeadm', this.infraLabelOf(cluster)];
    if (!needed.every((l) => this.providerAvailable(srv, l))) return;
    const stall = this.stallFor(cluster);
    const STAGE_CONDITION = { 1: 'InfrastructureReady', 2: 'ControlPlaneInitialized', 3: 'ControlPlaneAvailable', 4: 'WorkersAvailable' };
    if (sim.adopted) {
      sim.stage = 4;
      if (this.sc.rolloutAfterMove && !sim.rolledOut) {
        const ms = this.machinesOf(srv, cluster);
        const victim = ms.find((m) => !('cluster.x-k8s.io/control-plane' in (m.metadata.labels || {}))) || ms[0];
        if (victim) {
          this.remove(srv, this.K('Machine', 'cluster.x-k8s.io'), victim.metadata.namespace, victim.metadata.name);
          const owner = victim.metadata.labels['cluster.x-k8s.io/deployment-name'] || `${cluster.metadata.name}-control-plane`;
          this.newMachine(srv, cluster, owner, !victim.metadata.labels['cluster.x-k8s.io/deployment-name']);
          this.record({ event: 'rollout', cluster: k, removed: victim.metadata.name });
        }
        sim.rolledOut = true;
      }
    } else if (sim.stage < 4) {
      const next = sim.stage + 1;
      if (!(stall && stall.stallAt === STAGE_CONDITION[next])) {
        if (next === 1 && this.machinesOf(srv, cluster).length === 0) this.createMachines(srv, cluster);
        if (next === 2 && !sim.permanentPort) this.createManagementServer(srv, cluster, sim);
        sim.stage = next;
      }
    }
    this.writeClusterStatus(srv, cluster, sim, stall);
  }

  writeClusterStatus(srv, cluster, sim, stall) {
    const stage = sim.stage;
    const t = '2026-01-01T00:00:00Z';
    const defs = [
      ['InfrastructureReady', 1, 'Waiting for the infrastructure to be provisioned'],
      ['ControlPlaneInitialized', 2, 'Waiting for the first control plane Machine to have a Node'],
      ['ControlPlaneAvailable', 3, 'KubeadmControlPlane is not available: 0 of 1 Machines are ready'],
      ['WorkersAvailable', 4, 'MachineDeployment is not available: 0 of 1 Machines are ready'],
      ['Available', 4, 'Waiting for the control plane and the workers to be available'],
    ];
    const conditions = defs.map(([type, at, wait]) => {
      if (stage >= at) return { type, status: 'True', reason: type.replace(/^(Infrastructure|ControlPlane|Workers)/, ''), message: '', lastTransitionTime: t, observedGeneration: 1 };
      const msg = stall && stall.stallAt === type && stall.message ? stall.message : wait;
      return { type, status: 'False', reason: 'Waiting', message: msg, lastTransitionTime: t, observedGeneration: 1 };
    });
    cluster.status = {
      initialization: { infrastructureProvisioned: stage >= 1, controlPlaneInitialized: stage >= 2 },
      phase: stage >= 2 ? 'Provisioned' : stage >= 1 ? 'Provisioning' : 'Pending',
      conditions,
      observedGeneration: 1,
    };
    for (const m of this.machinesOf(srv, cluster)) {
      const cp = 'cluster.x-k8s.io/control-plane' in (m.metadata.labels || {});
      const hasNode = cp ? stage >= 2 : stage >= 3;
      m.status = hasNode
        ? { phase: 'Running', nodeRef: { name: m.metadata.name }, initialization: { infrastructureProvisioned: true, bootstrapDataSecretCreated: true } }
        : { phase: 'Provisioning', initialization: { infrastructureProvisioned: stage >= 1 } };
    }
  }

  // ------------------------------------------------------------------ clusterctl move
  moveGraph(srv, ns) {
    const clusterInfo = this.K('Cluster', 'cluster.x-k8s.io');
    const clusters = this.list(srv, clusterInfo, ns);
    const names = clusters.map((c) => c.metadata.name);
    const order = [
      ['Cluster', 'cluster.x-k8s.io'], ['DevCluster', 'infrastructure.cluster.x-k8s.io'], ['DockerCluster', 'infrastructure.cluster.x-k8s.io'], ['AWSCluster', 'infrastructure.cluster.x-k8s.io'],
      ['KubeadmControlPlane', 'controlplane.cluster.x-k8s.io'], ['MachineDeployment', 'cluster.x-k8s.io'], ['MachineSet', 'cluster.x-k8s.io'],
      ['Machine', 'cluster.x-k8s.io'], ['KubeadmConfigTemplate', 'bootstrap.cluster.x-k8s.io'], ['KubeadmConfig', 'bootstrap.cluster.x-k8s.io'],
      ['DevMachineTemplate', 'infrastructure.cluster.x-k8s.io'], ['DockerMachineTemplate', 'infrastructure.cluster.x-k8s.io'], ['AWSMachineTemplate', 'infrastructure.cluster.x-k8s.io'],
      ['DevMachine', 'infrastructure.cluster.x-k8s.io'], ['DockerMachine', 'infrastructure.cluster.x-k8s.io'], ['AWSMachine', 'infrastructure.cluster.x-k8s.io'], ['Secret', ''],
    ];
    const out = [];
    for (const [kind, group] of order) {
      const info = this.K(kind, group);
      if (!info) throw new Error(`no CRD declares ${kind}.${group}`);
      if (!this.installed(srv, info)) continue;
      for (const o of this.list(srv, info, ns)) {
        if (kind === 'Secret' && !names.some((n) => o.metadata.name.startsWith(`${n}-`))) continue;
        out.push({ info, obj: o });
      }
    }
    return { clusters, nodes: out };
  }

  copyToTarget(dst, info, obj) {
    this.ensureNamespace(dst, obj.metadata.namespace);
    const copy = clone(obj);
    delete copy.status;
    delete copy.metadata.uid;
    delete copy.metadata.resourceVersion;
    this.put(dst, copy);
    if (info.kind === 'Cluster') {
      dst.sim.clusters[okey(obj.metadata.namespace, obj.metadata.name)] = { stage: 4, adopted: true };
    }
  }

  // ------------------------------------------------------------------ seeding (tests)
  // Installs providers ("CoreProvider/cluster-api:v1.14.0" ...) the way clusterctl init would; with
  // ready, their Deployments are Available and webhooks answer right away.
  seedProviders(srv, pins, { ready = true, env = {} } = {}) {
    if (!srv.installed.includes('cert-manager')) this.installCertManager(srv);
    for (const pin of pins) {
      const [typeName, version] = pin.split(':');
      const [type, name] = typeName.split('/');
      this.installProvider(srv, type, name, version, env);
    }
    if (ready) {
      for (const sim of Object.values(srv.sim.deployments)) sim.readyAt = 0;
      this.tick(srv);
      srv.webhookReadyAt = 0;
    }
  }

  // Applies multi-document YAML to a server like `kubectl apply --server-side` (no checks).
  seedApply(srv, text) {
    const yaml = require('js-yaml');
    for (const doc of yaml.loadAll(text)) {
      if (!doc) continue;
      if (doc.metadata.namespace) this.ensureNamespace(srv, doc.metadata.namespace);
      this.put(srv, clone(doc));
    }
  }

  // Runs the simulated controllers until every Cluster on the server is ready (or n ticks).
  settle(srv, n = 10) {
    for (let i = 0; i < n; i++) this.tick(srv);
  }

  // Seeds a fully pivoted management cluster: objects moved from src to the management cluster's
  // own API server, which gets the same providers.
  seedPivot(src, namespace, pins) {
    const clusterInfo = this.K('Cluster', 'cluster.x-k8s.io');
    const graph = this.moveGraph(src, namespace);
    const c = graph.clusters[0];
    const dst = this.server(src.sim.clusters[okey(c.metadata.namespace, c.metadata.name)].permanentPort);
    if (pins) this.seedProviders(dst, pins);
    for (const n of graph.nodes) this.copyToTarget(dst, n.info, n.obj);
    for (const n of [...graph.nodes].reverse()) {
      this.remove(src, n.info, n.obj.metadata.namespace, n.obj.metadata.name);
      delete src.sim.clusters[okey(n.obj.metadata.namespace, n.obj.metadata.name)];
    }
    const t = this.get(dst, clusterInfo, c.metadata.namespace, c.metadata.name);
    delete t.spec.paused;
    this.settle(dst, 2);
    this.record({ event: 'move', from: src.name, to: dst.name, namespace, clusters: [okey(c.metadata.namespace, c.metadata.name)] });
    return dst;
  }

  // ------------------------------------------------------------------ test helpers
  // Every secret value this world generated (raw and as it appears base64-encoded in files).
  knownSecrets() {
    const out = [];
    for (const s of Object.values(this.st.servers)) out.push(s.clientKey, b64(s.clientKey));
    for (const name of Object.keys(this.st.managementClustersCreated)) out.push(`FAKE-CA-KEY-${name}`, b64(`FAKE-CA-KEY-${name}`));
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Invocation log and process helpers for the bin/ fakes.
function fileArg(flag, p) {
  if (!p) return { flag, path: p, mode: null, dirMode: null };
  const abs = path.resolve(p);
  return { flag, path: abs, exists: fs.existsSync(abs), mode: modeOf(abs), dirMode: modeOf(path.dirname(abs)) };
}

function defaultKubeconfigPath() {
  if (process.env.KUBECONFIG) return process.env.KUBECONFIG.split(':')[0];
  return path.join(process.env.HOME || '/nonexistent-home', '.kube', 'config');
}

function logInvocation(entry) {
  const p = process.env.FAKE_LOG;
  if (!p) return;
  const homeConfig = path.join(process.env.HOME || '/nonexistent-home', '.kube', 'config');
  const line = {
    tool: entry.tool,
    argv: entry.argv,
    env: Object.keys(process.env).sort(),
    files: entry.files || [],
    defaultKubeconfig: entry.defaultKubeconfig || null,
    // ~/.kube/config was (or would have been) read or written by this invocation.
    homeKubeConfigTouched: entry.defaultKubeconfig === homeConfig || (fs.existsSync(homeConfig) && fs.statSync(homeConfig).mtimeMs >= START_MS),
    stdinBytes: entry.stdinBytes === undefined ? null : entry.stdinBytes,
    exit: entry.exit,
    pid: process.pid,
    ppid: process.ppid,
  };
  fs.appendFileSync(p, JSON.stringify(line) + '\n');
}

// Kills the step under test the way an interrupted `pulumi up` would: SIGKILL to the process group
// of the bash running the step (the harness spawns each step in its own process group). No trap runs.
function killStep() {
  let pgrp = 0;
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch { /* not Linux */ }
  let comm = '';
  try { comm = fs.readFileSync(`/proc/${pgrp}/comm`, 'utf8').trim(); } catch { /* gone */ }
  if (process.env.FAKE_ALLOW_KILL !== '1' || comm !== 'bash' || !pgrp) {
    process.stderr.write('fake: scenario asked to kill the step, but it does not run in its own bash process group\n');
    process.exit(137);
  }
  process.kill(-pgrp, 'SIGKILL');
  // SIGKILL also reaches this process; never continue.
  for (;;) { /* wait for the signal */ }
}

function readStdin() {
  try { return fs.readFileSync(0, 'utf8'); } catch { return ''; }
}

class ToolExit extends Error {
  constructor(code) { super(`exit ${code}`); this.exitCode = code; }
}

// Runs one fake tool invocation: opens the world, applies the scenario's fault rule (if any
// matches), calls handler, saves the world, logs the invocation and exits with handler's code.
// Output is written synchronously so nothing is lost on exit.
function runTool(tool, handler) {
  const argv = process.argv.slice(2);
  const io = {
    out: (s) => { if (s) fs.writeSync(1, s); },
    err: (s) => { if (s) fs.writeSync(2, s); },
  };
  const entry = { tool, argv, files: [] };
  let world = null;
  let code;
  try {
    world = World.open();
    const rule = world.matchRule(tool, argv);
    code = handler({ world, argv, entry, rule, ...io });
  } catch (e) {
    if (e instanceof ToolExit) code = e.exitCode;
    else { fs.writeSync(2, `fake ${tool}: internal error: ${(e && e.stack) || e}\n`); code = 99; }
  }
  if (world) world.save();
  entry.exit = code;
  logInvocation(entry);
  if (entry.kill) killStep();
  process.exit(code);
}

// Emits a fault rule's output; returns its exit code (default 1).
function ruleOutput(rule, io) {
  if (rule.stdout) io.out(rule.stdout.endsWith('\n') ? rule.stdout : `${rule.stdout}\n`);
  if (rule.stderr) io.err(rule.stderr.endsWith('\n') ? rule.stderr : `${rule.stderr}\n`);
  return rule.exit === undefined ? 1 : rule.exit;
}

// Splits argv into positionals and flags. valued: flags that take a value (both --f v and --f=v).
function parseFlags(argv, valued) {
  const flags = {};
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { pos.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('-') && a !== '-') {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      let value = true;
      if (eq > 0) value = a.slice(eq + 1);
      else if (valued.includes(name)) value = argv[++i];
      (flags[name] = flags[name] || []).push(value);
    } else {
      pos.push(a);
    }
  }
  const one = (...names) => { for (const n of names) if (flags[n]) return flags[n][flags[n].length - 1]; return undefined; };
  const all = (...names) => names.flatMap((n) => flags[n] || []);
  return { flags, pos, one, all };
}

module.exports = {
  runTool, ruleOutput, parseFlags, ToolExit,
  World, KINDS, PROVIDERS, PROVIDER_TYPE_ORDER, DEFAULT_VERSIONS, CERT_MANAGER_VERSION,
  b64, unb64, clone, okey, versionCmp, kindId, serverPortFromKubeconfig,
  fileArg, defaultKubeconfigPath, logInvocation, killStep, readStdin, modeOf,
};
