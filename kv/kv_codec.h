// Value format of the `kv` column family and the keys of `kv_meta`.
//
// kv:      key   = EncodeRevisionKey(revision)                       (16 bytes)
//          value = one marker byte, then a serialized mvccpb.KeyValue
//                  'p' put:       the full KeyValue (key, create/mod revision, version, value,
//                                 lease) as readers get it
//                  't' tombstone: a KeyValue with only key and mod_revision, which is what a
//                                 DELETE event carries
// kv_meta: fixed ASCII names -> 8-byte big-endian integers (see kMeta* below).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "etcd/kv.pb.h"

namespace keel::kv {

inline constexpr char kPutMarker = 'p';
inline constexpr char kTombstoneMarker = 't';

// kv_meta keys.
inline constexpr std::string_view kMetaAppliedIndex = "applied_index";
// The compaction revision logically in force (reads below it fail). Written before the
// physical deletion starts, so a crash mid-deletion resumes it at start-up.
inline constexpr std::string_view kMetaScheduledCompaction = "scheduled_compaction";
// The compaction whose physical deletion has completed.
inline constexpr std::string_view kMetaFinishedCompaction = "finished_compaction";

// The fields of a mvccpb.KeyValue, for encoding without building the message.
struct KeyValueFields {
  std::string_view key;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  std::string_view value;
  int64_t lease = 0;
};

// Appends `kv` serialized exactly as KeyValue::SerializeToString would (fields in number
// order, proto3 zero values left out, negative integers as 10-byte varints), so records
// written this way and through protobuf are byte-identical (HashKV depends on the bytes).
// The write path uses it to encode a put once into a reused buffer instead of building and
// serializing a message.
void AppendKeyValue(const KeyValueFields& kv, std::string* out);
// The number of bytes AppendKeyValue appends (to size a buffer once).
size_t KeyValueBytes(const KeyValueFields& kv);

// Parses a stored value into `kv`; sets *tombstone. False if the bytes are not ours.
bool DecodeValue(std::string_view value, bool* tombstone, mvccpb::KeyValue* kv);

// What start-up needs from each record, without parsing (or copying) the value bytes.
struct ValueHeader {
  bool tombstone = false;
  std::string_view key;  // points into the decoded buffer
  int64_t create_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;  // the key's lease while this version is its newest (0: none)
};
bool DecodeValueHeader(std::string_view value, ValueHeader* header);

std::string EncodeMetaInt(uint64_t value);
bool DecodeMetaInt(std::string_view bytes, uint64_t* value);

}  // namespace keel::kv
