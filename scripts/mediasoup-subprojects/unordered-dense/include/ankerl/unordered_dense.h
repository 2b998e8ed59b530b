/*
 * ankerl::unordered_dense -> std::unordered_map/set alias (subsec offline mediasoup build).
 *
 * mediasoup's worker uses martinus/unordered_dense (header-only, not packaged in Debian 12):
 * `ankerl::unordered_dense::map<K, V[, Hash[, Eq]]>`, `set<K[, Hash[, Eq]]>` and
 * `hash<T>{}(value)` as a 64-bit mixing hash it combines into its own keys. The worker only
 * needs the std::unordered_map/set subset of their interface (find, emplace, try_emplace,
 * erase, contains, iteration), which the standard containers provide with stronger iterator
 * guarantees. `hash<T>` forwards to std::hash and mixes the result (splitmix64 finaliser), so
 * values that feed Utils::Crypto::HashCombine are spread over all 64 bits like upstream's.
 */
#ifndef SUBSEC_ANKERL_UNORDERED_DENSE_H
#define SUBSEC_ANKERL_UNORDERED_DENSE_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace ankerl
{
	namespace unordered_dense
	{
		template<typename T, typename Enable = void>
		struct hash
		{
			using is_avalanching = void;

			uint64_t operator()(const T& value) const noexcept
			{
				uint64_t x = static_cast<uint64_t>(std::hash<T>{}(value));

				x += 0x9e3779b97f4a7c15ULL;
				x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
				x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;

				return x ^ (x >> 31);
			}
		};

		template<
		  class Key,
		  class T,
		  class Hash      = hash<Key>,
		  class KeyEqual  = std::equal_to<Key>,
		  class Allocator = std::allocator<std::pair<const Key, T>>>
		using map = std::unordered_map<Key, T, Hash, KeyEqual, Allocator>;

		template<
		  class Key,
		  class Hash      = hash<Key>,
		  class KeyEqual  = std::equal_to<Key>,
		  class Allocator = std::allocator<Key>>
		using set = std::unordered_set<Key, Hash, KeyEqual, Allocator>;
	} // namespace unordered_dense
} // namespace ankerl

#endif
