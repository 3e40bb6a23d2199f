#include "base/etcd_errors.h"

#include <array>

namespace keel {
namespace {

constexpr EtcdErrorInfo kTable[] = {
#define KEEL_ETCD_ERROR_ROW(name, code, message) \
  {EtcdErrorId::k##name, #name, absl::StatusCode::code, message},
    KEEL_ETCD_ERRORS(KEEL_ETCD_ERROR_ROW)
#undef KEEL_ETCD_ERROR_ROW
};

// The rows are indexed by id; a reordering mistake would hand out the wrong message.
constexpr bool RowsMatchIds() {
  for (size_t i = 0; i < std::size(kTable); ++i) {
    if (static_cast<size_t>(kTable[i].id) != i) return false;
  }
  return true;
}
static_assert(RowsMatchIds());

}  // namespace

absl::Span<const EtcdErrorInfo> AllEtcdErrors() { return kTable; }

const EtcdErrorInfo& EtcdErrorInfoOf(EtcdErrorId id) { return kTable[static_cast<size_t>(id)]; }

absl::Status EtcdError(EtcdErrorId id) {
  const EtcdErrorInfo& info = EtcdErrorInfoOf(id);
  return absl::Status(info.code, absl::string_view(info.message.data(), info.message.size()));
}

bool IsEtcdError(const absl::Status& status, EtcdErrorId id) {
  const EtcdErrorInfo& info = EtcdErrorInfoOf(id);
  absl::string_view message = status.message();
  return status.code() == info.code &&
         std::string_view(message.data(), message.size()) == info.message;
}

}  // namespace keel
