/**
 * Node failover for {@link SubsecClient} (docs/cascade.md): which node URL the next connection
 * attempt uses, and which sources a viewer keeps waiting for after their origin node died.
 *
 * - `nodes`: the connect URL first, then the other nodes given in `ConnectOptions.nodes`. After a
 *   loss the next attempt goes to the current node again; each failed attempt moves on to the next
 *   node in the list, so a publisher whose node died lands on another one and republishes.
 * - `redirect(url)`: a `REDIRECT` join error or `redirect` notification names the node to use.
 * - `originLost(identity)`: subscriptions to that identity's sources stay pending (not closed) for
 *   `windowMs`, and re-bind when a producer with the same identity + kind + appData reappears.
 */
import { toSignalingUrl } from './url';

export class NodeFailover {
  readonly #nodes: string[];
  #index = 0;
  readonly #lost = new Map<string, number>();

  constructor(
    url: string,
    nodes: readonly string[] = [],
    readonly windowMs = 15_000,
  ) {
    this.#nodes = [url];
    for (const node of nodes) this.#add(toSignalingUrl(node));
  }

  /** Signaling URL for the next connection attempt. */
  get current(): string {
    return this.#nodes[this.#index]!;
  }

  /** The attempt on the current node failed: the next one goes to the next node in the list. */
  failed(): void {
    this.#index = (this.#index + 1) % this.#nodes.length;
  }

  /** Use `url` (a node base URL or ws URL) from now on. */
  redirect(url: string): void {
    this.#index = this.#add(toSignalingUrl(url));
  }

  /** The origin node of `identity`'s stream died (notification `originLost`). */
  originLost(identity: string): void {
    this.#lost.set(identity, Date.now());
  }

  /** Whether `identity`'s sources are expected back on another node (originLost within the window). */
  isAwaited(identity: string): boolean {
    const at = this.#lost.get(identity);
    if (at === undefined) return false;
    if (Date.now() - at <= this.windowMs) return true;
    this.#lost.delete(identity);
    return false;
  }

  #add(url: string): number {
    const i = this.#nodes.indexOf(url);
    if (i >= 0) return i;
    this.#nodes.push(url);
    return this.#nodes.length - 1;
  }
}
