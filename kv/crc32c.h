// CRC-32C (Castagnoli), the checksum etcd's HashKV uses; table-driven, no CPU dispatch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace keel::kv {

// Extends `crc` (0 to start) with `data`. Crc32cExtend(Crc32cExtend(0, a), b) == crc of a+b.
uint32_t Crc32cExtend(uint32_t crc, std::string_view data);

}  // namespace keel::kv
