// ATOM · Bitbucket page: the seed's eight tabs over the gateway's /bitbucket/*
// routes, as native modules (no build step). This entry only wires them.
//
// Served under `Content-Security-Policy: script-src 'self'`, so every listener
// is attached from these modules (no inline handlers).

import { reportErrorsTo, wireForms } from './dom.js';
import { configure, showError } from './api.js';
import * as nav from './nav.js';
import * as session from './session.js';
import * as overview from './overview.js';
import * as workspaces from './workspaces.js';
import * as repositories from './repositories.js';
import * as pullRequests from './pull-requests.js';
import * as pipelines from './pipelines.js';
import * as issues from './issues.js';
import * as codeSearch from './code-search.js';
import * as settings from './settings.js';

const TABS = [overview, workspaces, repositories, pullRequests, pipelines, issues, codeSearch, settings];

reportErrorsTo(showError);
configure({ onSessionLost: session.signedOut, onReconnect: settings.showConnect });
nav.useTabs(TABS);
wireForms();
nav.wire();
session.wire();
for (const tab of TABS) tab.wire?.();
session.boot().catch((error) => showError(error));
