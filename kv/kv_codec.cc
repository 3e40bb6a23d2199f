#include "kv/kv_codec.h"

#include "kv/revision.h"

namespace keel::kv {
namespace {

bool ReadVarint(std::string_view* in, uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in->empty()) return false;
    unsigned char byte = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return true;
    }
  }
  return false;
}

void AppendVarint(uint64_t value, std::string* out) {
  char buf[10];
  size_t n = 0;
  while (value >= 0x80) {
    buf[n++] = static_cast<char>(value | 0x80);
    value >>= 7;
  }
  buf[n++] = static_cast<char>(value);
  out->append(buf, n);
}

// proto3 writes nothing for a zero scalar or an empty bytes field.
void AppendIntField(uint32_t field, int64_t value, std::string* out) {
  if (value == 0) return;
  out->push_back(static_cast<char>(field << 3));  // wire type 0; fields < 16 fit one byte
  AppendVarint(static_cast<uint64_t>(value), out);
}

void AppendBytesField(uint32_t field, std::string_view bytes, std::string* out) {
  if (bytes.empty()) return;
  out->push_back(static_cast<char>((field << 3) | 2));
  AppendVarint(bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

size_t VarintBytes(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

size_t IntFieldBytes(int64_t value) {
  return value == 0 ? 0 : 1 + VarintBytes(static_cast<uint64_t>(value));
}

size_t BytesFieldBytes(std::string_view bytes) {
  return bytes.empty() ? 0 : 1 + VarintBytes(bytes.size()) + bytes.size();
}

}  // namespace

size_t KeyValueBytes(const KeyValueFields& kv) {
  return BytesFieldBytes(kv.key) + IntFieldBytes(kv.create_revision) +
         IntFieldBytes(kv.mod_revision) + IntFieldBytes(kv.version) +
         BytesFieldBytes(kv.value) + IntFieldBytes(kv.lease);
}

void AppendKeyValue(const KeyValueFields& kv, std::string* out) {
  // Field numbers of mvccpb.KeyValue (proto/etcd/kv.proto).
  AppendBytesField(1, kv.key, out);
  AppendIntField(2, kv.create_revision, out);
  AppendIntField(3, kv.mod_revision, out);
  AppendIntField(4, kv.version, out);
  AppendBytesField(5, kv.value, out);
  AppendIntField(6, kv.lease, out);
}

bool DecodeValue(std::string_view value, bool* tombstone, mvccpb::KeyValue* kv) {
  if (value.empty()) return false;
  if (value[0] != kPutMarker && value[0] != kTombstoneMarker) return false;
  *tombstone = value[0] == kTombstoneMarker;
  return kv->ParseFromArray(value.data() + 1, static_cast<int>(value.size() - 1));
}

// A hand-written walk over the wire format: fields 1..4 (key, create_revision, mod_revision,
// version) precede the value in protobuf's canonical field order, so start-up stops before
// the value bytes. Unknown or out-of-order fields are handled, just slower.
bool DecodeValueHeader(std::string_view value, ValueHeader* header) {
  if (value.empty()) return false;
  if (value[0] != kPutMarker && value[0] != kTombstoneMarker) return false;
  *header = ValueHeader{};
  header->tombstone = value[0] == kTombstoneMarker;
  std::string_view in = value.substr(1);
  bool have_key = false;
  while (!in.empty()) {
    uint64_t tag;
    if (!ReadVarint(&in, &tag)) return false;
    const uint64_t field = tag >> 3;
    const uint64_t wire_type = tag & 7;
    if (wire_type == 0) {
      uint64_t v;
      if (!ReadVarint(&in, &v)) return false;
      if (field == 2) header->create_revision = static_cast<int64_t>(v);
      if (field == 4) header->version = static_cast<int64_t>(v);
      if (field == 6) header->lease = static_cast<int64_t>(v);
    } else if (wire_type == 2) {
      uint64_t len;
      if (!ReadVarint(&in, &len) || len > in.size()) return false;
      if (field == 1) {
        header->key = in.substr(0, len);
        have_key = true;
      }
      in.remove_prefix(len);
    } else if (wire_type == 1) {
      if (in.size() < 8) return false;
      in.remove_prefix(8);
    } else if (wire_type == 5) {
      if (in.size() < 4) return false;
      in.remove_prefix(4);
    } else {
      return false;
    }
  }
  return have_key;
}

std::string EncodeMetaInt(uint64_t value) {
  std::string out(8, '\0');
  PutBigEndian64(value, out.data());
  return out;
}

bool DecodeMetaInt(std::string_view bytes, uint64_t* value) {
  if (bytes.size() != 8) return false;
  *value = GetBigEndian64(bytes.data());
  return true;
}

}  // namespace keel::kv
