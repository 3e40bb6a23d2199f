#include "server/alarms.h"

#include "base/check.h"

namespace keel::server {
namespace {
constexpr char kAlarmsKey[] = "alarms";
}  // namespace

Alarms::Alarms(MemberStorage* storage) : storage_(storage) {
  auto stored = storage_->GetMeta(kAlarmsKey);
  if (!stored.ok()) return;
  etcdserverpb::AlarmResponse list;
  KEEL_CHECK(list.ParseFromString(*stored)) << "corrupt alarm record";
  for (const auto& a : list.alarms()) active_.insert({a.memberid(), a.alarm()});
}

etcdserverpb::AlarmResponse Alarms::Apply(const etcdserverpb::AlarmRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  etcdserverpb::AlarmResponse resp;
  auto add = [&resp](uint64_t member, int type) {
    auto* a = resp.add_alarms();
    a->set_memberid(member);
    a->set_alarm(static_cast<etcdserverpb::AlarmType>(type));
  };
  switch (request.action()) {
    case etcdserverpb::AlarmRequest::GET:
      for (const auto& [member, type] : active_) {
        if (request.alarm() == etcdserverpb::NONE || request.alarm() == type) add(member, type);
      }
      break;
    case etcdserverpb::AlarmRequest::ACTIVATE:
      if (request.alarm() == etcdserverpb::NONE) break;
      if (active_.insert({request.memberid(), request.alarm()}).second) PersistLocked();
      add(request.memberid(), request.alarm());
      break;
    case etcdserverpb::AlarmRequest::DEACTIVATE:
      if (active_.erase({request.memberid(), request.alarm()}) > 0) {
        PersistLocked();
        add(request.memberid(), request.alarm());
      }
      break;
    default:
      break;
  }
  return resp;
}

etcdserverpb::AlarmResponse Alarms::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ListLocked();
}

etcdserverpb::AlarmResponse Alarms::ListLocked() const {
  etcdserverpb::AlarmResponse resp;
  for (const auto& [member, type] : active_) {
    auto* a = resp.add_alarms();
    a->set_memberid(member);
    a->set_alarm(static_cast<etcdserverpb::AlarmType>(type));
  }
  return resp;
}

bool Alarms::NoSpace() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [member, type] : active_) {
    if (type == etcdserverpb::NOSPACE) return true;
  }
  return false;
}

void Alarms::PersistLocked() {
  absl::Status st = storage_->PutMeta(kAlarmsKey, ListLocked().SerializeAsString(), /*sync=*/false);
  KEEL_CHECK(st.ok()) << "cannot persist alarms: " << st;
}

}  // namespace keel::server
