// What more than one module reads: who is signed in, the open tab, the chosen
// workspace and repository, and the pickers' lists. Everything else (the
// selected pull request, a followed pipeline run, ...) stays in its tab's module.

const shared = {
  tenant: null,
  tab: 'overview',
  ws: '',
  repo: '',
  workspaces: [],
  repos: [],
  reposReady: Promise.resolve(),
  branches: null, // { key, promise } for the selected repository
};

export const tenant = () => shared.tenant;
export const tab = () => shared.tab;
export const ws = () => shared.ws;
export const repo = () => shared.repo;
export const workspaces = () => shared.workspaces;
export const repos = () => shared.repos;
export const reposReady = () => shared.reposReady;
export const currentRepo = () => shared.repos.find((r) => r.slug === shared.repo);

export function setTenant(name) {
  shared.tenant = name;
}

export function setTab(name) {
  shared.tab = name;
}

export function setWorkspace(slug) {
  shared.ws = slug;
}

export function setRepo(slug) {
  if (slug !== shared.repo) shared.branches = null;
  shared.repo = slug;
}

export function setWorkspaces(list) {
  shared.workspaces = list;
}

export function setRepos(list) {
  shared.repos = list;
}

export function setReposReady(promise) {
  shared.reposReady = promise;
}

// The selected repository's branches, asked once for every tab and form that
// needs them; `load` runs only when there is no answer (or request) for it yet.
export function branches(load) {
  const key = `${shared.ws}/${shared.repo}`;
  if (shared.branches?.key !== key) {
    const promise = load();
    promise.catch(() => { if (shared.branches?.promise === promise) shared.branches = null; });
    shared.branches = { key, promise };
  }
  return shared.branches.promise;
}

// A push may have moved or added branches.
export function forgetBranches() {
  shared.branches = null;
}

// The workspace, repository and tab stay: they are the URL's, not the tenant's.
export function forgetTenant() {
  Object.assign(shared, { tenant: null, workspaces: [], repos: [], branches: null });
}
