// The node's view of Services and EndpointSlices: one informer each (list and watch through the
// node's credential, which the system:node-proxier role allows), shared by the service proxy and
// the cluster DNS, with one change callback.
import type { Service } from "kubernetes-types/core/v1";
import type { EndpointSlice } from "kubernetes-types/discovery/v1";
import { Informer, type ApiClient, type Lister } from "../../lib/client/index.ts";
import { builtin } from "../../lib/k8s/resources.ts";

/** Slices indexed by the Service they belong to ("<namespace>/<service>"). */
export const BY_SERVICE = "service";

export class ServiceInformers {
  private readonly services: Informer<Service>;
  private readonly slices: Informer<EndpointSlice>;
  private readonly listeners: (() => void)[] = [];

  constructor(client: ApiClient) {
    this.services = new Informer(client.resource<Service>(builtin("v1", "services")));
    this.slices = new Informer(client.resource<EndpointSlice>(builtin("discovery.k8s.io/v1", "endpointslices")), {
      indexers: {
        [BY_SERVICE]: (slice) => {
          const owner = slice.metadata?.labels?.["kubernetes.io/service-name"];
          return owner ? [`${slice.metadata?.namespace}/${owner}`] : [];
        },
      },
    });
    const changed = { onAdd: () => this.notify(), onUpdate: () => this.notify(), onDelete: () => this.notify() };
    this.services.addEventHandler(changed);
    this.slices.addEventHandler(changed);
  }

  get serviceLister(): Lister<Service> {
    return this.services.lister;
  }

  get sliceLister(): Lister<EndpointSlice> {
    return this.slices.lister;
  }

  /** Both caches have been listed once. */
  get hasSynced(): boolean {
    return this.services.hasSynced && this.slices.hasSynced;
  }

  /** Called after any Service or EndpointSlice change. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Lists and watches both until `signal` aborts; the caches keep their last state meanwhile. */
  run(signal: AbortSignal): Promise<void> {
    return Promise.all([this.services.run(signal), this.slices.run(signal)]).then(() => undefined);
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}
