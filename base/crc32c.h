// CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78): the checksum iSCSI, ext4,
// RocksDB and etcd's snapshot files use. The peer transport checks streamed snapshots with it.
//
// Software only (slicing-by-8 over tables built at compile time, about 1-2 GB/s): abseil
// 20220623 has no crc library and the figures needed here are far below what a snapshot
// stream costs on the network.
#pragma once

#include <cstdint>
#include <string_view>

namespace keel {

// The CRC32C of `data`. Crc32c("123456789") == 0xE3069283.
uint32_t Crc32c(std::string_view data);

// Continues a checksum: Crc32cExtend(Crc32c(a), b) == Crc32c(a + b), and Crc32cExtend(0, a) ==
// Crc32c(a), so a stream can be checked chunk by chunk.
uint32_t Crc32cExtend(uint32_t crc, std::string_view data);

}  // namespace keel
