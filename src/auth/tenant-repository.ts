import type { Resource } from 'fhir/r4.js';
import type { ResourceStore, SearchQuery, SearchResult, Stored } from '../store/resource-store.js';
import { canSee, type Caller } from './caller.js';
import { disclosable, mayDisclose, searchTenant } from './disclosure.js';

/**
 * The store as one caller sees it, built per request (as Medplum builds a repository per request
 * from the caller's access policy): reads answer nothing for another tenant's resource, searches run
 * in the caller's tenancy. Handlers use this; the system-level store is for background work.
 */
export class TenantRepository {
  constructor(
    private readonly store: ResourceStore,
    readonly caller: Caller,
  ) {}

  /** A resource the caller may read (tenancy and `.r` scope); another tenant's answers as missing. */
  async read<T extends Resource>(type: string, id: string): Promise<Stored<T> | undefined> {
    const stored = await this.store.read<T>(type, id);
    return stored && mayDisclose(this.caller, stored) ? stored : undefined;
  }

  /**
   * A resource in the caller's tenancy, whatever its read scope: for a write whose own scope the
   * route has declared (a Task update, a Communication about a Task).
   */
  async inTenancy<T extends Resource>(type: string, id: string): Promise<Stored<T> | undefined> {
    const stored = await this.store.read<T>(type, id);
    return stored && canSee(this.caller, stored.acl) ? stored : undefined;
  }

  /** All versions, newest first, of a resource the caller may read. */
  async history(type: string, id: string): Promise<Resource[] | undefined> {
    if (!(await this.read(type, id))) return undefined;
    return (await this.store.history(type, id))?.versions;
  }

  async vread(type: string, id: string, versionId: string): Promise<Stored | undefined> {
    if (!(await this.read(type, id))) return undefined;
    return this.store.vread(type, id, versionId);
  }

  /** Of these references, the resources the caller may see; the rest are left out as if they did not exist. */
  async readMany(refs: Array<[type: string, id: string]>): Promise<Resource[]> {
    return this.disclosable(await this.store.readMany(refs));
  }

  disclosable(items: ReadonlyArray<Stored | undefined>): Resource[] {
    return disclosable(this.caller, items);
  }

  /** A search whose index holds only what the caller's tenancy may see. */
  async search(query: Omit<SearchQuery, 'tenant'>): Promise<SearchResult> {
    return this.store.search({ ...query, tenant: searchTenant(this.caller) });
  }
}
