//! The sandbox: one `Engine` and one `InstancePre` per loaded component, a
//! fresh `Store` per call with the tenant, the limits and the outbound policy.

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{
    Component, ComponentExportIndex, ComponentNamedList, ComponentType, HasSelf, Instance,
    InstancePre, Lift, Linker, Lower, ResourceTable,
};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter,
    Store, StoreLimits, StoreLimitsBuilder, Trap,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::{CONTRACT_VERSION, Plugin};
use crate::contract::{Error as IntegrationError, HealthReport, IntegrationInfo, Operation};
use crate::failure::{Failure, Limit, StoreDown};
use crate::limits::{InstanceAllocation, Limits};
use crate::outbound::{Allowlist, OutboundPolicy, OutboundStats};
use crate::tenant::Tenant;
use crate::upstream_client::UpstreamClient;

/// How often the engine's epoch advances: the granularity of deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The generic contract's exported interface, without its version.
const INTEGRATION: &str = "atom:integration/integration";

/// Everything one call's `Store` holds.
pub struct HostState {
    pub(crate) tenant: Tenant,
    /// The tenant's credential lock while this call holds it; dropped with
    /// the store, so a trap or a deadline cannot leave it held.
    pub(crate) credential_guard: Option<crate::credential_lock::CredentialLock>,
    /// Set when the store did not answer a host call of this call's.
    pub(crate) store_down: bool,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    outbound: OutboundPolicy,
    memory: MemoryCap,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// A loaded component, ready to run calls for any tenant.
#[derive(Clone)]
pub struct Sandbox {
    engine: Engine,
    pre: InstancePre<HostState>,
    contract: ContractFunctions,
    limits: Limits,
    allowlist: Allowlist,
    outbound: OutboundStats,
    upstream: UpstreamClient,
    discovered: Arc<tokio::sync::OnceCell<Discovered>>,
    _ticker: Arc<EpochTicker>,
}

/// What a component says about itself: fixed per component, so asked once.
struct Discovered {
    info: IntegrationInfo,
    operations: Arc<[Operation]>,
}

/// Where the generic contract's functions are among the component's
/// exports, found once per component. A call looks up the one function it
/// calls: the bindings' `Plugin` would look up and type-check all four on
/// every instantiation.
#[derive(Clone, Copy)]
struct ContractFunctions {
    capabilities: ComponentExportIndex,
    operations: ComponentExportIndex,
    execute: ComponentExportIndex,
    health: ComponentExportIndex,
}

impl ContractFunctions {
    /// The four functions, or why the component cannot be loaded: a
    /// component built against another version of the generic contract is
    /// refused with both versions named.
    fn find(engine: &Engine, component: &Component) -> anyhow::Result<Self> {
        let wanted = format!("{INTEGRATION}@{CONTRACT_VERSION}");
        let interface = component
            .get_export_index(None, &wanted)
            .ok_or_else(|| not_the_contract(engine, component, &wanted))?;
        let function = |name: &str| {
            component
                .get_export_index(Some(&interface), name)
                .ok_or_else(|| anyhow::anyhow!("{INTEGRATION} has no function `{name}`"))
        };
        Ok(Self {
            capabilities: function("capabilities")?,
            operations: function("operations")?,
            execute: function("execute")?,
            health: function("health")?,
        })
    }
}

/// A boxed call on an untyped instance, for `Sandbox::run_instance`.
pub type GuestCall<'a, R> = Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>;

impl Sandbox {
    /// Compiles the component at `path` (with the engine that will run it:
    /// epoch interruption changes the generated code) and links it once.
    pub fn load(path: &Path, allowlist: Allowlist, limits: Limits) -> anyhow::Result<Self> {
        Self::load_with(path, allowlist, limits, InstanceAllocation::default())
    }

    /// `load` with a chosen instance allocator.
    pub fn load_with(
        path: &Path,
        allowlist: Allowlist,
        limits: Limits,
        allocation: InstanceAllocation,
    ) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // `ATOM_PERF_MAP=1` names guest functions in `perf` profiles (through
        // /tmp/perf-PID.map) instead of leaving them anonymous JIT code.
        if std::env::var_os("ATOM_PERF_MAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        if let InstanceAllocation::Pooling { instances } = allocation {
            config.allocation_strategy(pooling(instances, &limits));
        }
        let engine = Engine::new(&config)?;
        let component = crate::compiled::load(&engine, path)
            .map_err(|e| anyhow::anyhow!("cannot load component {}: {e:#}", path.display()))?;

        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)?;
        let contract = ContractFunctions::find(&engine, &component)?;
        let pre = linker.instantiate_pre(&component)?;

        Ok(Self {
            _ticker: EpochTicker::start(engine.clone()),
            engine,
            pre,
            contract,
            allowlist,
            outbound: OutboundStats::default(),
            upstream: UpstreamClient::new(limits.call_timeout),
            discovered: Arc::default(),
            limits,
        })
    }

    /// Requests the component sent and was refused, since load.
    pub fn outbound_stats(&self) -> &OutboundStats {
        &self.outbound
    }

    /// The same compiled component under other limits.
    pub fn with_limits(&self, limits: Limits) -> Self {
        Self {
            limits,
            ..self.clone()
        }
    }

    /// Runs `call` on a fresh instance for `tenant`, within the limits.
    ///
    /// The instance is untyped: a caller that knows an integration's own
    /// WIT (a test of Bitbucket's typed functions) binds its exports itself.
    pub async fn run_instance<R, F>(&self, tenant: &Tenant, call: F) -> Result<R, Failure>
    where
        R: Send,
        F: for<'a> FnOnce(Instance, &'a mut Store<HostState>) -> GuestCall<'a, R> + Send,
    {
        let mut store = self.new_store(tenant);
        let outcome = tokio::time::timeout(self.limits.call_timeout, async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            call(instance, &mut store).await
        })
        .await;
        self.settle(outcome, &store)
    }

    /// Calls the generic contract's function `function` with `params` on a
    /// fresh instance for `tenant`.
    async fn run<P, R>(
        &self,
        tenant: &Tenant,
        function: ComponentExportIndex,
        params: P,
    ) -> Result<R, Failure>
    where
        P: ComponentNamedList + Lower + Send + Sync,
        R: ComponentType + Lift + Send + Sync + 'static,
    {
        self.run_noting_store(tenant, function, params).await.0
    }

    /// [`Sandbox::run`], and whether the store failed to answer during it.
    async fn run_noting_store<P, R>(
        &self,
        tenant: &Tenant,
        function: ComponentExportIndex,
        params: P,
    ) -> (Result<R, Failure>, bool)
    where
        P: ComponentNamedList + Lower + Send + Sync,
        R: ComponentType + Lift + Send + Sync + 'static,
    {
        let mut store = self.new_store(tenant);
        let outcome = tokio::time::timeout(self.limits.call_timeout, async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            let function = instance.get_typed_func::<P, (R,)>(&mut store, function)?;
            let (answer,) = function.call_async(&mut store, params).await?;
            Ok(answer)
        })
        .await;
        (self.settle(outcome, &store), store.data().store_down)
    }

    /// A call's outcome as the caller sees it: its value, or why it failed.
    fn settle<R>(
        &self,
        outcome: Result<wasmtime::Result<R>, tokio::time::error::Elapsed>,
        store: &Store<HostState>,
    ) -> Result<R, Failure> {
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(classify(&error, store.data().memory.exceeded, &self.limits)),
            Err(_elapsed) => Err(deadline_exceeded(&self.limits)),
        }
    }

    /// `execute(operation, params)`: the JSON answer or the typed failure.
    pub async fn execute(
        &self,
        tenant: &Tenant,
        operation: &str,
        params: &str,
    ) -> Result<String, Failure> {
        let (outcome, store_down) = self
            .run_noting_store::<_, Result<String, IntegrationError>>(
                tenant,
                self.contract.execute,
                (operation, params),
            )
            .await;
        match outcome? {
            Ok(answer) => Ok(answer),
            // The component's account of a store that failed it (a refresh
            // it could not save) says less than the host knows.
            Err(_) if store_down => Err(Failure::ServiceDown(
                "the credential store did not answer during the call".into(),
            )),
            Err(error) => Err(Failure::Integration(error)),
        }
    }

    /// The component's operations with their schemas: asked of the
    /// component on the first call (a fresh instance for `tenant`), then
    /// answered from what it said, since they are fixed per component.
    pub async fn operations(&self, tenant: &Tenant) -> Result<Arc<[Operation]>, Failure> {
        Ok(self.discovered(tenant).await?.operations.clone())
    }

    /// The component's capabilities, asked once as [`Sandbox::operations`].
    pub async fn capabilities(&self, tenant: &Tenant) -> Result<IntegrationInfo, Failure> {
        Ok(self.discovered(tenant).await?.info.clone())
    }

    async fn discovered(&self, tenant: &Tenant) -> Result<&Discovered, Failure> {
        self.discovered
            .get_or_try_init(|| async {
                Ok(Discovered {
                    info: self.capabilities_of_fresh_instance(tenant).await?,
                    operations: self
                        .run::<_, Vec<Operation>>(tenant, self.contract.operations, ())
                        .await?
                        .into(),
                })
            })
            .await
    }

    /// `capabilities` asked of a fresh instance, the cheapest whole call:
    /// what the bench measures the sandbox's overhead with.
    pub async fn capabilities_of_fresh_instance(
        &self,
        tenant: &Tenant,
    ) -> Result<IntegrationInfo, Failure> {
        self.run(tenant, self.contract.capabilities, ()).await
    }

    pub async fn health(&self, tenant: &Tenant) -> Result<HealthReport, Failure> {
        self.run::<_, Result<HealthReport, IntegrationError>>(tenant, self.contract.health, ())
            .await?
            .map_err(Failure::Integration)
    }

    fn new_store(&self, tenant: &Tenant) -> Store<HostState> {
        // No filesystem, environment, arguments or sockets; stderr is kept so
        // a guest panic's message reaches the operator.
        let wasi = WasiCtx::builder().inherit_stderr().build();
        let state = HostState {
            tenant: tenant.clone(),
            credential_guard: None,
            store_down: false,
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            outbound: OutboundPolicy {
                allowlist: self.allowlist.clone(),
                io_timeout: self.limits.call_timeout,
                stats: self.outbound.clone(),
                tenant_sent: tenant.upstream_requests.clone(),
                client: self.upstream.clone(),
            },
            memory: MemoryCap::new(self.limits.memory_bytes),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        // Guest code gives its thread back to the runtime every tick, so a
        // CPU-bound call never holds a worker that other calls and
        // connections need; the call's deadline is the timeout around it.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        store
    }
}

/// Why a component without the `wanted` interface cannot be loaded, naming
/// the contract version it implements if it implements another, instead of
/// wasmtime's "no export named ...".
fn not_the_contract(engine: &Engine, component: &Component, wanted: &str) -> anyhow::Error {
    let exports = component.component_type();
    let other = exports
        .exports(engine)
        .map(|(name, _)| name)
        .find(|name| name.starts_with(INTEGRATION));
    match other {
        Some(other) => {
            anyhow::anyhow!("the component implements `{other}`; this host loads `{wanted}` only")
        }
        None => {
            anyhow::anyhow!(
                "the component is not an ATOM integration: it does not export `{wanted}`"
            )
        }
    }
}

/// Slots for `instances` calls at once, each memory slot as large as a call
/// may grow its memory. A call beyond the pool fails to instantiate: size it
/// from the gateway's concurrency.
fn pooling(instances: u32, limits: &Limits) -> InstanceAllocationStrategy {
    // Per component instance: the Rust component's own module plus the
    // shims wit-component adds.
    const CORE_INSTANCES_PER_CALL: u32 = 8;
    const TABLES_PER_CALL: u32 = 4;
    const DECOMMIT_BATCH: usize = 16;
    const LINEAR_MEMORY_KEEP_RESIDENT: usize = 1 << 20;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(instances * CORE_INSTANCES_PER_CALL)
        .total_memories(instances)
        .total_tables(instances * TABLES_PER_CALL)
        .total_stacks(instances)
        .max_memory_size(limits.memory_bytes)
        // A freed slot's pages are reset in place rather than given back and
        // faulted in again on the next call, and the rest is given back in
        // batches of madvise calls. Where the kernel has PAGEMAP_SCAN (Linux
        // 6.7), only the pages the call dirtied are reset, so a larger
        // resident region costs nothing for a call that did not touch it.
        .linear_memory_keep_resident(LINEAR_MEMORY_KEEP_RESIDENT)
        .table_keep_resident(64 << 10)
        .pagemap_scan(Enabled::Auto)
        .decommit_batch_size(DECOMMIT_BATCH);
    InstanceAllocationStrategy::Pooling(pool)
}

fn classify(error: &wasmtime::Error, memory_exceeded: bool, limits: &Limits) -> Failure {
    if memory_exceeded {
        return Failure::LimitExceeded {
            limit: Limit::Memory,
            message: format!(
                "the component needed more than its {} MiB of memory",
                limits.memory_bytes >> 20
            ),
        };
    }
    if let Some(down) = error.downcast_ref::<StoreDown>() {
        return Failure::ServiceDown(down.to_string());
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        return Failure::Trap(format!("the component trapped: {trap}"));
    }
    Failure::Host(format!("{error:#}"))
}

fn deadline_exceeded(limits: &Limits) -> Failure {
    Failure::LimitExceeded {
        limit: Limit::Deadline,
        message: format!(
            "the call did not finish within {} ms",
            limits.call_timeout.as_millis()
        ),
    }
}

/// `StoreLimits`, remembering whether it refused a growth.
struct MemoryCap {
    limits: StoreLimits,
    exceeded: bool,
}

impl MemoryCap {
    fn new(bytes: usize) -> Self {
        Self {
            limits: StoreLimitsBuilder::new()
                .memory_size(bytes)
                .trap_on_grow_failure(true)
                .build(),
            exceeded: false,
        }
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum);
        if !matches!(allowed, Ok(true)) {
            self.exceeded = true;
        }
        allowed
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }
}

/// Advances the engine's epoch while the sandbox lives.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Arc<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("atom-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        Arc::new(Self { stop })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
