/**
 * Names the demo apps and the node's demo actors agree on: the rooms the pages open by default
 * (clients/apps) and the identities the node acts under in them.
 */

/** The auction page's default room, where the demo auctioneer runs. */
export const DEMO_AUCTION_ROOM = 'auction-demo';
/** The watch-party page's default room, where the sample starts playing. */
export const DEMO_PARTY_ROOM = 'party-demo';
/** Identity of the node's demo auctioneer (its camera is a synthetic source). */
export const DEMO_AUCTIONEER = 'demo-auctioneer';
/** Names the occasional demo bidder bids under. */
export const DEMO_BIDDERS = ['ada (demo)', 'grace (demo)', 'linus (demo)', 'margaret (demo)'];
