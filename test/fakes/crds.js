'use strict';
// The custom resource kinds the fake API servers serve, derived from the upstream CRDs of the pinned
// provider versions in ../shared/crds (FLEET_CRDS_DIR overrides), never from a list of our own: a provider
// installed by the fake `clusterctl init` serves exactly what its CRDs declare (e.g. CAPD v1.14.0 serves
// the Dev* kinds and its deprecated Docker* kinds; CAPA v2.11.1 does not serve v1beta1).
//
// The CRD files are several MB of YAML and every fake invocation is a new process, so they are read with
// a line scan of the fields needed (group, names, scope, versions[].name/served/storage/deprecated) in
// controller-gen's fixed layout, once: the result is cached in the temp directory, keyed by the files'
// names, sizes and mtimes. test/steps/fakes.test.ts proves the scan equals a full YAML parse.
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const CRDS_DIR = process.env.FLEET_CRDS_DIR || path.resolve(__dirname, '..', '..', '..', 'shared', 'crds');

// The provider label clusterctl puts on a provider's components (cluster.x-k8s.io/provider) → its CRD folder.
// `flux` is not a clusterctl provider: tests seed it.
const PROVIDER_CRD_FOLDERS = {
  'cluster-api': 'cluster-api',
  'bootstrap-kubeadm': 'cluster-api-bootstrap-kubeadm',
  'control-plane-kubeadm': 'cluster-api-controlplane-kubeadm',
  'infrastructure-docker': 'cluster-api-docker',
  'infrastructure-aws': 'cluster-api-aws',
  'addon-helm': 'cluster-api-addon-helm',
  clusterctl: 'clusterctl',
  flux: 'flux',
};
// clusterctl's Metadata CRD describes a provider's metadata.yaml; it is never installed in a cluster.
const NOT_INSTALLED = new Set(['clusterctl.cluster.x-k8s.io_metadata.yaml']);

// scanCrd <text>: { group, kind, plural, shortNames, namespaced, versions: [{ name, served, storage, deprecated }] }
function scanCrd(text) {
  const crd = { group: '', kind: '', plural: '', shortNames: [], namespaced: true, versions: [] };
  let section = ''; // the spec key we are in: names | versions | other
  let list = ''; // the names list we are in: shortNames | categories
  let version = null;
  const scalar = (line, indent) => {
    const m = new RegExp(`^ {${indent}}(?:- )?([A-Za-z]+): (.+)$`).exec(line);
    return m ? [m[1], m[2].replace(/^["']|["']$/g, '')] : null;
  };
  let inSpec = false;
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) { inSpec = line === 'spec:'; section = ''; continue; }
    if (!inSpec) continue;
    if (/^ {2}\S/.test(line)) {
      const key = /^ {2}(- )?([A-Za-z]+):/.exec(line);
      if (line.startsWith('  - ') && section === 'versions') {
        version = { name: '', served: false, storage: false, deprecated: false };
        crd.versions.push(version);
        const kv = scalar(line, 2);
        if (kv) setVersionField(version, kv);
        continue;
      }
      section = key ? key[2] : '';
      const kv = scalar(line, 2);
      if (kv && kv[0] === 'group') crd.group = kv[1];
      if (kv && kv[0] === 'scope') crd.namespaced = kv[1] === 'Namespaced';
      continue;
    }
    if (section === 'names') {
      if (/^ {4}- /.test(line)) { if (list === 'shortNames') crd.shortNames.push(line.slice(6).trim()); continue; }
      const kv = scalar(line, 4);
      list = /^ {4}[A-Za-z]+:$/.test(line) ? line.trim().slice(0, -1) : '';
      if (kv && kv[0] === 'kind') crd.kind = kv[1];
      if (kv && kv[0] === 'plural') crd.plural = kv[1];
    } else if (section === 'versions' && version) {
      const kv = scalar(line, 4);
      if (kv && !line.startsWith('    - ')) setVersionField(version, kv);
    }
  }
  return crd;
}

function setVersionField(version, [key, value]) {
  if (key === 'name') version.name = value;
  if (key === 'served') version.served = value === 'true';
  if (key === 'storage') version.storage = value === 'true';
  if (key === 'deprecated') version.deprecated = value === 'true';
}

// crdFiles(): [{ provider, file }] of every CRD a provider installs.
function crdFiles() {
  const out = [];
  for (const [provider, folder] of Object.entries(PROVIDER_CRD_FOLDERS)) {
    const dir = path.join(CRDS_DIR, folder);
    if (!fs.existsSync(dir)) throw new Error(`fake API server: no CRDs for provider ${provider} in ${dir} (set FLEET_CRDS_DIR to the shared crds folder)`);
    for (const name of fs.readdirSync(dir).sort()) {
      if (/\.ya?ml$/.test(name) && !NOT_INSTALLED.has(name)) out.push({ provider, file: path.join(dir, name) });
    }
  }
  return out;
}

// providerKinds(): the registry entries (see world.js K()) of every kind a provider's CRDs declare.
function providerKinds() {
  const files = crdFiles();
  const key = crypto.createHash('sha256');
  for (const { provider, file } of files) {
    const st = fs.statSync(file);
    key.update(`${provider} ${file} ${st.size} ${st.mtimeMs}\n`);
  }
  const cache = path.join(os.tmpdir(), `fleet-fake-kinds-${key.digest('hex').slice(0, 16)}.json`);
  if (fs.existsSync(cache)) return JSON.parse(fs.readFileSync(cache, 'utf8'));
  const kinds = scanKinds(files);
  const tmp = `${cache}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(kinds));
  fs.renameSync(tmp, cache);
  return kinds;
}

function scanKinds(files) {
  return files.map(({ provider, file }) => {
    const crd = scanCrd(fs.readFileSync(file, 'utf8'));
    const storage = crd.versions.find((v) => v.storage);
    if (!crd.group || !crd.kind || !crd.plural || !storage) throw new Error(`fake API server: cannot read the CRD ${file}`);
    return {
      kind: crd.kind, group: crd.group, version: storage.name, plural: crd.plural,
      namespaced: crd.namespaced, short: crd.shortNames, provider,
      served: crd.versions.filter((v) => v.served).map((v) => v.name),
      deprecated: crd.versions.filter((v) => v.deprecated).map((v) => v.name),
    };
  });
}

module.exports = { CRDS_DIR, PROVIDER_CRD_FOLDERS, scanCrd, crdFiles, providerKinds, scanKinds };
