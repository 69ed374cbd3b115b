#include "bench/soak.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "auth/pki/certificate_authority.h"
#include "bench/bench_workloads.h"
#include "bench/child_process.h"
#include "bench/run_environment.h"

namespace refx::bench {
namespace {

using refx::client::ReferralClient;
using refx::v1::WatchReferralsResponse;

// What the load threads share with the sampler.
class SoakLedger {
 public:
  void Record(const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    if (status.ok()) {
      ++ok_;
    } else {
      ++failed_;
      if (first_error_.empty()) first_error_ = status.ToString();
    }
  }
  void StreamOpened() {
    absl::MutexLock lock(&mu_);
    ++opened_;
  }
  void Sent(const std::string& name, int64_t sent_ns) {
    absl::MutexLock lock(&mu_);
    sent_[name] = sent_ns;
    ++created_;
  }
  void Received(const std::string& name, int64_t received_ns) {
    absl::MutexLock lock(&mu_);
    received_.emplace(name, received_ns);
  }
  // Moves this sample's counts and joined lags into `sample`.
  void TakeSample(SoakSample* sample) {
    absl::MutexLock lock(&mu_);
    sample->calls_ok = ok_;
    sample->calls_failed = failed_;
    sample->watch_streams_opened = opened_;
    ok_ = failed_ = opened_ = 0;
    std::vector<double> lags;
    for (auto it = sent_.begin(); it != sent_.end();) {
      auto received = received_.find(it->first);
      if (received == received_.end()) {
        ++it;
        continue;
      }
      lags.push_back(static_cast<double>(received->second - it->second) / 1e6);
      received_.erase(received);
      it = sent_.erase(it);
    }
    std::sort(lags.begin(), lags.end());
    sample->lag_events = static_cast<int64_t>(lags.size());
    if (!lags.empty()) {
      sample->lag_p50_ms = lags[lags.size() / 2];
      sample->lag_p99_ms = lags[std::min(lags.size() - 1, lags.size() * 99 / 100)];
    }
  }
  int64_t undelivered() {
    absl::MutexLock lock(&mu_);
    int64_t n = 0;
    for (const auto& [name, sent] : sent_) n += received_.count(name) == 0 ? 1 : 0;
    return n;
  }
  int64_t created() {
    absl::MutexLock lock(&mu_);
    return created_;
  }
  std::string first_error() {
    absl::MutexLock lock(&mu_);
    return first_error_;
  }

 private:
  absl::Mutex mu_;
  int64_t ok_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t opened_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t created_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, int64_t> sent_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, int64_t> received_ ABSL_GUARDED_BY(mu_);
};

// Sleeps up to `d`, waking early when `stop` is set.
void SleepUnless(const std::atomic<bool>& stop, absl::Duration d) {
  const absl::Time end = absl::Now() + d;
  while (!stop.load() && !g_cancel.load() && absl::Now() < end) {
    absl::SleepFor(std::min(absl::Milliseconds(50), end - absl::Now()));
  }
}

void CreateLoop(const SoakSettings& settings, const std::string& run_id, SoakLedger* ledger,
                const std::atomic<bool>& stop) {
  auto sender = ReferralClient::Connect(settings.sender);
  auto recipient = ReferralClient::Connect(settings.recipient);
  if (!sender.ok() || !recipient.ok()) {
    ledger->Record(sender.ok() ? recipient.status() : sender.status());
    return;
  }
  const absl::Duration interval = absl::Seconds(1.0 / settings.creates_per_second);
  absl::Time next = absl::Now();
  for (int64_t i = 0; !stop.load() && !g_cancel.load(); ++i) {
    next += interval;
    const absl::Time now = absl::Now();
    if (now < next) {
      SleepUnless(stop, next - now);
    } else if (now - next > absl::Seconds(1)) {
      next = now;  // Behind: keep the rate, do not burst to catch up.
    }
    const int64_t sent_ns = absl::GetCurrentTimeNanos();
    auto created = sender->CreateReferral(settings.referral, absl::StrCat(run_id, "-", i));
    ledger->Record(created.status());
    if (!created.ok()) continue;
    ledger->Sent(created->name(), sent_ns);
    ledger->Record(sender->GetReferral(created->name()).status());
    if (i % 2 == 0) {
      auto seen = recipient->GetReferral(created->name());
      ledger->Record(seen.status());
      if (seen.ok()) {
        refx::v1::AcceptReferralRequest accept;
        accept.set_name(seen->name());
        accept.set_etag(seen->etag());
        accept.set_request_id(absl::StrCat(run_id, "-accept-", i));
        ledger->Record(recipient->AcceptReferral(accept).status());
      }
    }
    if (i % 10 == 0) {
      refx::v1::ListReferralsRequest list;
      list.set_page_size(50);
      ledger->Record(sender->ListReferrals(list).status());
    }
  }
}

// One stream after another, each held 0.5-3 s, then cancelled.
void ChurnLoop(const SoakSettings& settings, int seed, SoakLedger* ledger, const std::atomic<bool>& stop) {
  auto client = ReferralClient::Connect(settings.recipient);
  if (!client.ok()) {
    ledger->Record(client.status());
    return;
  }
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> hold_ms(500, 3000);
  while (!stop.load() && !g_cancel.load()) {
    refx::client::WatchCancellation cancellation;
    absl::Status ended;
    std::thread stream([&] {
      refx::v1::WatchReferralsRequest request;
      request.set_start_at_head(true);
      ended = client->Watch(
          request, [](const WatchReferralsResponse&) { return true; }, &cancellation);
    });
    ledger->StreamOpened();
    SleepUnless(stop, absl::Milliseconds(hold_ms(random)));
    cancellation.Cancel();
    stream.join();
    ledger->Record(absl::IsCancelled(ended) ? absl::OkStatus() : ended);
  }
}

absl::StatusOr<int64_t> CountEntries(const std::string& directory) {
  std::error_code error;
  int64_t n = 0;
  for (auto it = std::filesystem::directory_iterator(directory, error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++n;
  }
  if (error) return absl::UnavailableError(absl::StrCat("cannot list ", directory));
  return n;
}

absl::StatusOr<int64_t> ReadThreads(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "Threads:")) return std::stoll(line.substr(8));
  }
  return absl::UnavailableError(absl::StrCat("the server (pid ", pid, ") is gone"));
}

int64_t CountInFile(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) n += absl::StrContains(line, needle) ? 1 : 0;
  return n;
}

}  // namespace

absl::StatusOr<SoakResult> RunSoak(const SoakSettings& settings) {
  SoakResult result;
  SoakLedger ledger;
  std::atomic<bool> stop{false}, stop_watcher{false};
  const std::string run_id = absl::StrCat("soak-", absl::ToUnixMicros(absl::Now()));

  // The long-lived watcher first: every create after it is measured.
  auto watcher_client = ReferralClient::Connect(settings.recipient);
  if (!watcher_client.ok()) return watcher_client.status();
  refx::client::WatchCancellation watcher_cancel;
  absl::Notification subscribed;
  absl::Status watcher_end;
  std::thread watcher([&] {
    refx::v1::WatchReferralsRequest request;
    request.set_start_at_head(true);
    watcher_end = watcher_client->WatchWithResume(
        request,
        [&](const WatchReferralsResponse& m) {
          if (m.kind() == WatchReferralsResponse::SUBSCRIBED && !subscribed.HasBeenNotified()) subscribed.Notify();
          if (m.kind() == WatchReferralsResponse::REFERRAL_CREATED) {
            ledger.Received(m.referral().name(), absl::GetCurrentTimeNanos());
          }
          return !stop_watcher.load();
        },
        &watcher_cancel);
  });
  if (!subscribed.WaitForNotificationWithTimeout(absl::Seconds(15))) {
    watcher_cancel.Cancel();
    watcher.join();
    return absl::UnavailableError(absl::StrCat("the long-lived watch stream did not open: ", watcher_end.ToString()));
  }

  std::vector<std::thread> load;
  load.emplace_back([&] { CreateLoop(settings, run_id, &ledger, stop); });
  for (int i = 0; i < settings.watch_churners; ++i) {
    load.emplace_back([&, i] { ChurnLoop(settings, 1000 + i, &ledger, stop); });
  }

  const absl::Time start = absl::Now();
  absl::Time next_sample = start + settings.sample_every;
  absl::Time next_revocation = start + settings.revocation_every;
  absl::Time next_agreement = start + settings.agreement_every;
  absl::Status failure;
  while (failure.ok() && !g_cancel.load() && absl::Now() < start + settings.duration) {
    absl::SleepFor(absl::Milliseconds(200));
    const absl::Time now = absl::Now();
    if (now >= next_revocation) {
      next_revocation += settings.revocation_every;
      failure = settings.publish_revocations(2 + result.revocation_lists_published);
      ++result.revocation_lists_published;
    }
    if (failure.ok() && now >= next_agreement) {
      next_agreement += settings.agreement_every;
      failure = settings.rewrite_agreement(1 + result.agreements_written);
      ++result.agreements_written;
    }
    if (failure.ok() && now >= next_sample) {
      next_sample += settings.sample_every;
      SoakSample sample;
      sample.minutes = absl::ToDoubleMinutes(now - start);
      auto rss = ReadRssBytes(settings.server_pid);
      auto fds = CountEntries(absl::StrCat("/proc/", settings.server_pid, "/fd"));
      auto threads = ReadThreads(settings.server_pid);
      if (!rss.ok() || !fds.ok() || !threads.ok()) {
        failure = absl::UnavailableError(absl::StrCat("refx-server (pid ", settings.server_pid, ") is gone"));
        break;
      }
      sample.rss_mb = static_cast<double>(*rss) / (1024.0 * 1024.0);
      sample.fds = *fds;
      sample.threads = *threads;
      ledger.TakeSample(&sample);
      Progress(absl::StrFormat(
          "soak %5.1f min: RSS %.1f MB, %d fds, %d threads, %d calls ok, %d failed, %d streams opened, "
          "lag p50 %.1f ms p99 %.1f ms over %d events",
          sample.minutes, sample.rss_mb, sample.fds, sample.threads, sample.calls_ok, sample.calls_failed,
          sample.watch_streams_opened, sample.lag_p50_ms, sample.lag_p99_ms, sample.lag_events));
      result.samples.push_back(sample);
    }
  }
  stop = true;
  for (auto& t : load) t.join();
  // Let the last events arrive, then end the long-lived stream.
  for (int i = 0; i < 50 && ledger.undelivered() > 0; ++i) absl::SleepFor(absl::Milliseconds(100));
  result.never_delivered = ledger.undelivered();
  result.created = ledger.created();
  stop_watcher = true;
  watcher_cancel.Cancel();
  watcher.join();
  if (!failure.ok()) return failure;
  if (g_cancel.load()) return absl::CancelledError("interrupted");
  result.first_error = ledger.first_error();
  result.revocation_lists_loaded = CountInFile(settings.server_log, "revocation_list_loaded");
  result.agreements_loaded = CountInFile(settings.server_log, "agreement_loaded");
  JudgeSoak(&result);
  return result;
}

absl::Status CheckSoakOptions(const SoakOptions& options, bool external) {
  if (options.minutes > 0 && external) {
    return absl::InvalidArgumentError(
        "--soak starts its own server (it republishes the revocation list and rewrites the agreement); it cannot "
        "be used with --server");
  }
  return absl::OkStatus();
}

absl::StatusOr<SoakAgreement> CopySoakAgreement(const std::string& partnership_path,
                                                const std::optional<std::string>& agreement_path,
                                                const std::string& directory) {
  const std::string original = agreement_path.value_or(
      (std::filesystem::absolute(partnership_path).parent_path() / "agreement.yaml").string());
  auto text = ReadText(original);
  if (!text.ok()) return text.status();
  SoakAgreement copy{directory + "/agreement.yaml", *std::move(text)};
  if (auto s = WriteText(copy.path, copy.text); !s.ok()) return s;
  return copy;
}

absl::StatusOr<bool> RunSoakAndReport(const SoakOptions& options, ChildServer& server,
                                      const refx::client::ConnectionOptions& sender, const std::string& recipient,
                                      const refx::pki::DevPki& pki, const std::string& pki_dir,
                                      const SoakAgreement& agreement, const OutputOptions& output) {
  SoakSettings soak;
  soak.duration = absl::Seconds(options.minutes * 60);
  soak.sample_every = absl::Seconds(options.sample_seconds);
  soak.creates_per_second = options.creates_per_second;
  soak.revocation_every = absl::Seconds(options.revocation_seconds);
  soak.agreement_every = absl::Seconds(options.agreement_seconds);
  soak.server_pid = server.pid();
  soak.server_log = server.log_path();
  soak.sender = sender;
  soak.recipient = sender;
  soak.recipient.cert_file = absl::StrCat(pki_dir, "/agencies/", recipient, ".pem");
  soak.recipient.key_file = absl::StrCat(pki_dir, "/agencies/", recipient, ".key");
  soak.referral = SampleReferral(recipient);
  soak.publish_revocations = [&](int64_t sequence) { return PublishRevocationList(pki, pki_dir, sequence); };
  soak.rewrite_agreement = [&](int64_t generation) {
    return refx::pki::WriteFileAtomically(
        agreement.path, absl::StrCat(agreement.text, "\n# refx-bench --soak: rewrite ", generation, "\n"), 0644);
  };
  Progress(absl::StrFormat("soak: %.1f minutes, a sample every %.0f s, %.0f creates/s", options.minutes,
                           options.sample_seconds, options.creates_per_second));
  auto soaked = RunSoak(soak);
  if (!soaked.ok()) return soaked.status();
  if (!server.Running()) {
    return absl::InternalError(
        absl::StrCat("refx-server died during the soak:\n", FileTail(server.log_path(), 2000)));
  }
  if (auto s = WriteOutput(output, FormatSoakTable(*soaked), FormatSoakJson(*soaked)); !s.ok()) return s;
  return !soaked->failed;
}

}  // namespace refx::bench
