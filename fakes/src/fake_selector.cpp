#include <simloop/fakes/fake_selector.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include <simloop/errors.hpp>
#include <simloop/protocols.hpp>

namespace simloop::fakes {

namespace {
constexpr int kFirstPort = 40000;
constexpr std::size_t kMaxDatagram = 65507;  // what fits in one IPv4 UDP datagram
}  // namespace

FakeSelector::FakeSelector(NetOptions options) : options_(std::move(options)) {
  if (options_.socket_buffer == 0) throw Error("FakeSelector: NetOptions::socket_buffer must be positive");
  if (options_.latency_unit < Duration{0}) throw Error("FakeSelector: NetOptions::latency_unit must not be negative");
}

FakeSelector::~FakeSelector() {
  // Dropping callbacks and events may destroy streams, which close their
  // descriptors through close(): with dying_ set, that is all it does.
  dying_ = true;
  auto readers = std::move(readers_);
  auto writers = std::move(writers_);
  auto events = std::move(events_);
  readers.clear();
  writers.clear();
  events.clear();
}

FakeSelector& FakeSelector::of(EventLoop& loop) {
  auto* fake = dynamic_cast<FakeSelector*>(&loop.selector());
  if (fake == nullptr) {
    throw Error("FakeSelector::of: this loop's selector is not a FakeSelector; build the SimLoop with one");
  }
  return *fake;
}

void FakeSelector::attach(EventLoop& loop) {
  if (!loop.clock().is_virtual()) {
    throw Error("FakeSelector: it needs a loop on virtual time (a SimLoop); a real loop uses EpollSelector");
  }
  loop_ = &loop;
  clock_ = &loop.clock();
  scheduler_ = &loop.scheduler();
}

Duration FakeSelector::now() const {
  if (clock_ == nullptr) throw Error("FakeSelector: not attached to a loop yet; pass it to a SimLoop first");
  return clock_->now();
}

std::uint64_t FakeSelector::choose(std::uint64_t n) {
  if (n <= 1) return 0;
  if (scheduler_ == nullptr) throw Error("FakeSelector: not attached to a loop yet; pass it to a SimLoop first");
  std::uint64_t v = scheduler_->choose(ChoiceKind::Io, n);
  return v < n ? v : 0;
}

bool FakeSelector::fault_fires() {
  const FaultOptions& f = options_.faults;
  if (!f.enabled || f.one_in < 2) return false;
  return choose(f.one_in) == f.one_in - 1;
}

Duration FakeSelector::latency() {
  std::uint64_t k = choose(options_.latency_steps);
  if (k > 0) ++stats_.delayed;
  return options_.latency_unit * static_cast<std::int64_t>(k);
}

FakeSelector::Endpoint* FakeSelector::find(int fd) {
  auto it = endpoints_.find(fd);
  return it == endpoints_.end() ? nullptr : &it->second;
}
const FakeSelector::Endpoint* FakeSelector::find(int fd) const {
  auto it = endpoints_.find(fd);
  return it == endpoints_.end() ? nullptr : &it->second;
}

std::string FakeSelector::normalize(const std::string& host) const {
  if (host == "localhost") return "127.0.0.1";
  if (host.empty()) return "0.0.0.0";
  return host;
}

std::pair<std::string, std::string> FakeSelector::host_pair(const std::string& a, const std::string& b) {
  return a < b ? std::make_pair(a, b) : std::make_pair(b, a);
}

std::size_t FakeSelector::space(const Channel& ch) const {
  const std::size_t used = ch.queued + ch.buffer.size();
  return used < options_.socket_buffer ? options_.socket_buffer - used : 0;
}

bool FakeSelector::readable(const Endpoint& e) const {
  switch (e.kind) {
    case Kind::Stream:
      if (e.status != 0) return false;
      [[fallthrough]];
    case Kind::PipeRead: return !e.in->buffer.empty() || e.in->eof || e.in->error != 0;
    case Kind::Listener: return !e.backlog.empty();
    case Kind::Datagram: return !e.inbox.empty() || e.dgram_error != 0;
    case Kind::PipeWrite: return false;
  }
  return false;
}

bool FakeSelector::writable(const Endpoint& e) const {
  switch (e.kind) {
    case Kind::Stream:
      if (e.status == -EINPROGRESS) return false;
      if (e.status != 0) return true;  // a failed connect: connect_result() tells
      return e.local_error != 0 || e.in->error != 0 || e.out->writer_done || e.out->error != 0 || space(*e.out) > 0;
    case Kind::PipeWrite: return e.out->reader_closed || e.out->writer_done || space(*e.out) > 0;
    case Kind::Datagram: return e.in_flight < options_.socket_buffer;
    case Kind::PipeRead:
    case Kind::Listener: return false;
  }
  return false;
}

// ---- timed events ---------------------------------------------------------------

std::uint64_t FakeSelector::schedule(Duration when, std::function<void()> fn) {
  const std::uint64_t id = next_event_++;
  events_.emplace(std::make_pair(when, id), std::move(fn));
  event_times_.emplace(id, when);
  return id;
}

bool FakeSelector::cancel_event(std::uint64_t id) {
  auto it = event_times_.find(id);
  if (it == event_times_.end()) return false;
  auto node = events_.extract(std::make_pair(it->second, id));
  event_times_.erase(it);
  return !node.empty();
}

std::size_t FakeSelector::run_due_events() {
  std::size_t ran = 0;
  while (!events_.empty() && events_.begin()->first.first <= now()) {
    auto node = events_.extract(events_.begin());
    event_times_.erase(node.key().second);
    node.mapped()();
    ++ran;
  }
  return ran;
}

// ---- deliveries -------------------------------------------------------------------

void FakeSelector::send(const std::shared_ptr<Channel>& ch, Segment seg) {
  Duration at = now() + latency();
  if (at < ch->last_arrival) at = ch->last_arrival;  // a connection's bytes stay in order
  ch->last_arrival = at;
  ch->queued += seg.bytes.size();
  schedule(at, [this, ch, seg = std::move(seg)]() mutable { arrive(ch, std::move(seg)); });
}

void FakeSelector::arrive(const std::shared_ptr<Channel>& ch, Segment seg) {
  if (ch->from != ch->to) {
    auto it = partitions_.find(host_pair(ch->from, ch->to));
    if (it != partitions_.end()) {
      if (it->second.mode == PartitionMode::Hold) {
        if (ch->held.empty()) held_channels_.push_back(ch);
        ch->held.push_back(std::move(seg));
        return;
      }
      // Drop: the bytes are lost, and so is the connection (TCP gives up).
      ch->queued -= seg.bytes.size();
      ch->error = ECONNRESET;
      ch->writer_done = true;
      if (auto r = ch->reverse.lock()) {
        r->error = ECONNRESET;
        r->writer_done = true;
      }
      return;
    }
  }
  if (!ch->held.empty()) {  // behind traffic a partition holds
    ch->held.push_back(std::move(seg));
    return;
  }
  ch->queued -= seg.bytes.size();
  deliver(*ch, std::move(seg));
}

void FakeSelector::deliver(Channel& ch, Segment seg) {
  switch (seg.kind) {
    case Segment::Kind::Data:
      if (ch.reader_closed) {
        // Data for a closed socket: TCP answers with a reset.
        if (auto r = ch.reverse.lock()) r->error = ECONNRESET;
        return;
      }
      if (ch.error != 0) return;
      ch.buffer += seg.bytes;
      return;
    case Segment::Kind::Eof: ch.eof = true; return;
    case Segment::Kind::Reset:
      ch.error = ECONNRESET;
      ch.buffer.clear();  // a reset discards what was not read
      return;
  }
}

void FakeSelector::reset_connection(Endpoint& e) {
  if (e.out && !e.out->writer_done) {
    Segment rst;
    rst.kind = Segment::Kind::Reset;
    send(e.out, std::move(rst));
    e.out->writer_done = true;
  }
  e.local_error = ECONNRESET;
  if (e.in) e.in->error = ECONNRESET;
}

// ---- Selector ------------------------------------------------------------------------

void FakeSelector::add_reader(int fd, HandleRef callback) {
  if (find(fd) == nullptr) {
    throw Error(
        fmt::format("add_reader(fd={}): no such open simulated endpoint (FakeSelector descriptors come from "
                    "its connect, listen, accept, socketpair and pipe)",
                    fd));
  }
  HandleRef old = std::exchange(readers_[fd], std::move(callback));
  old.cancel();  // asyncio cancels the handle it replaces
}

bool FakeSelector::remove_reader(int fd) {
  auto it = readers_.find(fd);
  if (it == readers_.end()) return false;
  HandleRef old = std::move(it->second);
  readers_.erase(it);
  old.cancel();
  return true;
}

void FakeSelector::add_writer(int fd, HandleRef callback) {
  if (find(fd) == nullptr) {
    throw Error(
        fmt::format("add_writer(fd={}): no such open simulated endpoint (FakeSelector descriptors come from "
                    "its connect, listen, accept, socketpair and pipe)",
                    fd));
  }
  HandleRef old = std::exchange(writers_[fd], std::move(callback));
  old.cancel();
}

bool FakeSelector::remove_writer(int fd) {
  auto it = writers_.find(fd);
  if (it == writers_.end()) return false;
  HandleRef old = std::move(it->second);
  writers_.erase(it);
  old.cancel();
  return true;
}

void FakeSelector::collect_ready(std::vector<HandleRef>& ready) {
  // Natural order: by descriptor, a reader before its writer.
  auto r = readers_.begin();
  auto w = writers_.begin();
  while (r != readers_.end() || w != writers_.end()) {
    const bool take_reader = w == writers_.end() || (r != readers_.end() && r->first <= w->first);
    if (take_reader) {
      const Endpoint* e = find(r->first);
      if (e != nullptr && readable(*e)) ready.push_back(r->second);
      ++r;
    } else {
      const Endpoint* e = find(w->first);
      if (e != nullptr && writable(*e)) ready.push_back(w->second);
      ++w;
    }
  }
}

void FakeSelector::select(std::optional<Duration> timeout, std::vector<HandleRef>& ready) {
  const std::size_t first = ready.size();
  const std::size_t ran = run_due_events();
  collect_ready(ready);
  // Jump only when nothing happened at all: an event that ran may have
  // called call_soon_threadsafe (an executor completion), which the loop
  // must see at this instant.
  if (ready.size() == first && ran == 0 && !(timeout && *timeout <= Duration{0})) {
    // Nothing ready: jump to the next event, or the timeout if sooner.
    std::optional<Duration> target;
    if (!events_.empty()) target = events_.begin()->first.first;
    if (timeout) {
      const Duration limit = now() + *timeout;
      if (!target || limit < *target) target = limit;
    }
    if (target) {
      if (*target > now()) clock_->advance(*target - now());
      run_due_events();
      collect_ready(ready);
    }
  }

  // Spurious readiness: an idle callback reported ready.
  const FaultOptions& f = options_.faults;
  if (f.enabled && f.spurious_readiness) {
    std::vector<HandleRef> idle;
    for (auto& [fd, h] : readers_) {
      const Endpoint* e = find(fd);
      if (e != nullptr && !readable(*e)) idle.push_back(h);
    }
    for (auto& [fd, h] : writers_) {
      const Endpoint* e = find(fd);
      if (e != nullptr && !writable(*e)) idle.push_back(h);
    }
    if (!idle.empty() && fault_fires()) {
      ready.push_back(idle[choose(idle.size())]);
      ++stats_.spurious;
    }
  }

  // The order of what is ready together.
  const std::size_t count = ready.size() - first;
  if (options_.reorder_readiness && count > 1) {
    bool moved = false;
    for (std::size_t i = first; i + 1 < ready.size(); ++i) {
      const std::uint64_t k = choose(ready.size() - i);
      if (k == 0) continue;
      moved = true;
      auto at = ready.begin() + static_cast<std::ptrdiff_t>(i);
      std::rotate(at, at + static_cast<std::ptrdiff_t>(k), at + static_cast<std::ptrdiff_t>(k) + 1);
    }
    if (moved) ++stats_.reorders;
  }
}

bool FakeSelector::quiescent() const {
  if (!events_.empty()) return false;
  for (const auto& [fd, h] : readers_) {
    const Endpoint* e = find(fd);
    if (e != nullptr && readable(*e)) return false;
  }
  for (const auto& [fd, h] : writers_) {
    const Endpoint* e = find(fd);
    if (e != nullptr && writable(*e)) return false;
  }
  return true;
}

// ---- SocketLayer ------------------------------------------------------------------------

int FakeSelector::connect(const std::string& host, int port, const std::string& local_host) {
  (void)now();  // must be attached
  Endpoint e;
  e.kind = Kind::Stream;
  e.host = local_host.empty() ? options_.default_host : normalize(local_host);
  auto [pit, inserted] = next_port_.try_emplace(e.host, kFirstPort);
  e.port = pit->second++;
  e.remote_host = normalize(host);
  e.remote_port = port;
  e.status = -EINPROGRESS;
  const int fd = next_fd_++;
  endpoints_.emplace(fd, std::move(e));
  schedule(now() + latency(), [this, fd] { complete_connect(fd); });
  return fd;
}

void FakeSelector::complete_connect(int fd) {
  Endpoint* e = find(fd);
  if (e == nullptr || e->status != -EINPROGRESS) return;  // closed meanwhile
  if (e->host != e->remote_host) {
    auto p = partitions_.find(host_pair(e->host, e->remote_host));
    if (p != partitions_.end()) {
      if (p->second.mode == PartitionMode::Hold) {
        held_connects_.push_back(fd);
      } else {
        e->status = -ETIMEDOUT;
      }
      return;
    }
  }
  auto lit = listeners_.find({e->remote_host, e->remote_port});
  if (lit == listeners_.end()) lit = listeners_.find({"0.0.0.0", e->remote_port});
  Endpoint* listener = lit == listeners_.end() ? nullptr : find(lit->second);
  if (listener == nullptr || static_cast<int>(listener->backlog.size()) >= listener->max_backlog) {
    e->status = -ECONNREFUSED;
    return;
  }
  auto c2s = std::make_shared<Channel>();
  auto s2c = std::make_shared<Channel>();
  c2s->from = s2c->to = e->host;
  c2s->to = s2c->from = e->remote_host;
  c2s->reverse = s2c;
  s2c->reverse = c2s;
  Endpoint s;
  s.kind = Kind::Stream;
  s.host = e->remote_host;
  s.port = e->remote_port;
  s.remote_host = e->host;
  s.remote_port = e->port;
  s.in = c2s;
  s.out = s2c;
  e->in = s2c;
  e->out = c2s;
  e->status = 0;
  const int sfd = next_fd_++;
  endpoints_.emplace(sfd, std::move(s));  // std::map: `listener` stays valid
  listener->backlog.push_back(sfd);
}

int FakeSelector::connect_result(int fd) {
  const Endpoint* e = find(fd);
  if (e == nullptr) return -EBADF;
  if (e->kind != Kind::Stream) return -ENOTSOCK;
  return e->status;
}

int FakeSelector::listen(const std::string& host, int port, int backlog) {
  const std::string h = normalize(host);
  if (port == 0) {
    auto [pit, inserted] = next_port_.try_emplace(h, kFirstPort);
    while (listeners_.count({h, pit->second}) != 0) ++pit->second;
    port = pit->second++;
  }
  if (listeners_.count({h, port}) != 0) return -EADDRINUSE;
  Endpoint e;
  e.kind = Kind::Listener;
  e.host = h;
  e.port = port;
  e.max_backlog = std::max(backlog, 1);
  const int fd = next_fd_++;
  endpoints_.emplace(fd, std::move(e));
  listeners_.emplace(std::make_pair(h, port), fd);
  return fd;
}

int FakeSelector::local_port(int fd) {
  const Endpoint* e = find(fd);
  return e == nullptr ? -EBADF : e->port;
}

int FakeSelector::accept(int listener) {
  Endpoint* e = find(listener);
  if (e == nullptr) return -EBADF;
  if (e->kind != Kind::Listener) return -EINVAL;
  if (e->backlog.empty()) return -EAGAIN;
  const int fd = e->backlog.front();
  e->backlog.pop_front();
  return fd;
}

std::ptrdiff_t FakeSelector::read(int fd, char* buffer, std::size_t size) {
  Endpoint* e = find(fd);
  if (e == nullptr) return -EBADF;
  if (e->kind == Kind::Datagram) return recvfrom(fd, buffer, size, nullptr);
  if (e->kind == Kind::Listener || e->kind == Kind::PipeWrite) return -EBADF;
  if (e->kind == Kind::Stream && e->status != 0) return e->status == -EINPROGRESS ? -EAGAIN : -ENOTCONN;
  Channel& in = *e->in;
  ++stats_.reads;
  if (!in.buffer.empty()) {
    if (size == 0) return 0;
    std::size_t m = std::min(size, in.buffer.size());
    if (options_.chunking && m > 1) {
      if (std::uint64_t k = choose(m); k != 0) {
        m = static_cast<std::size_t>(k);
        ++stats_.partial_reads;
      }
    }
    std::memcpy(buffer, in.buffer.data(), m);
    in.buffer.erase(0, m);
    return static_cast<std::ptrdiff_t>(m);
  }
  if (in.error != 0) return -in.error;
  if (in.eof) return 0;
  return -EAGAIN;
}

std::ptrdiff_t FakeSelector::write(int fd, const char* data, std::size_t size) {
  Endpoint* e = find(fd);
  if (e == nullptr) return -EBADF;
  if (e->kind == Kind::Datagram) return sendto(fd, data, size, {}, 0);
  if (e->kind == Kind::Listener || e->kind == Kind::PipeRead) return -EBADF;
  if (e->kind == Kind::Stream) {
    if (e->status != 0) return e->status == -EINPROGRESS ? -EAGAIN : -ENOTCONN;
    if (e->local_error != 0) return -e->local_error;
    if (e->in->error != 0) return -ECONNRESET;
  }
  const std::shared_ptr<Channel>& out = e->out;
  if (out->writer_done || (e->kind == Kind::PipeWrite && out->reader_closed)) return -EPIPE;
  if (out->error != 0) return -out->error;
  if (size == 0) return 0;
  std::size_t m = std::min(size, space(*out));
  if (m == 0) return -EAGAIN;
  ++stats_.writes;
  if (options_.chunking && m > 1) {
    if (std::uint64_t k = choose(m); k != 0) {
      m = static_cast<std::size_t>(k);
      ++stats_.partial_writes;
    }
  }
  if (e->kind == Kind::Stream && fault_fires()) {
    const FaultOptions& f = options_.faults;
    enum Fault { kReset, kEarlyEof, kWriteError };
    std::vector<Fault> kinds;
    if (f.resets) kinds.push_back(kReset);
    if (f.early_eof) kinds.push_back(kEarlyEof);
    if (f.write_errors) kinds.push_back(kWriteError);
    if (!kinds.empty()) {
      switch (kinds[choose(kinds.size())]) {
        case kWriteError:
          ++stats_.write_errors;
          reset_connection(*e);
          return -ECONNRESET;
        case kReset:
          // The peer gets this chunk, then the reset: "reset mid-request".
          ++stats_.resets;
          send(out, Segment{Segment::Kind::Data, std::string(data, m)});
          reset_connection(*e);
          return static_cast<std::ptrdiff_t>(m);
        case kEarlyEof: {
          ++stats_.early_eofs;
          send(out, Segment{Segment::Kind::Data, std::string(data, m)});
          send(out, Segment{Segment::Kind::Eof, {}});
          out->writer_done = true;
          e->local_error = EPIPE;
          return static_cast<std::ptrdiff_t>(m);
        }
      }
    }
  }
  send(out, Segment{Segment::Kind::Data, std::string(data, m)});
  return static_cast<std::ptrdiff_t>(m);
}

int FakeSelector::shutdown_write(int fd) {
  Endpoint* e = find(fd);
  if (e == nullptr) return -EBADF;
  if ((e->kind != Kind::Stream && e->kind != Kind::PipeWrite) || (e->kind == Kind::Stream && e->status != 0)) {
    return -ENOTCONN;
  }
  if (!e->out->writer_done) {
    send(e->out, Segment{Segment::Kind::Eof, {}});
    e->out->writer_done = true;
  }
  return 0;
}

void FakeSelector::close(int fd) {
  if (dying_) return;
  auto it = endpoints_.find(fd);
  if (it == endpoints_.end()) return;
  HandleRef reader;
  HandleRef writer;
  if (auto r = readers_.find(fd); r != readers_.end()) {
    reader = std::move(r->second);
    readers_.erase(r);
    reader.cancel();
  }
  if (auto w = writers_.find(fd); w != writers_.end()) {
    writer = std::move(w->second);
    writers_.erase(w);
    writer.cancel();
  }
  Endpoint e = std::move(it->second);
  endpoints_.erase(it);
  switch (e.kind) {
    case Kind::Stream:
      if (e.status == 0) {
        // Unread data at close makes TCP send a reset instead of a FIN.
        const bool unread = !e.in->buffer.empty();
        e.in->reader_closed = true;
        e.in->buffer.clear();
        if (!e.out->writer_done) {
          send(e.out, Segment{unread ? Segment::Kind::Reset : Segment::Kind::Eof, {}});
          e.out->writer_done = true;
        }
      }
      break;
    case Kind::PipeWrite:
      if (!e.out->writer_done) {
        send(e.out, Segment{Segment::Kind::Eof, {}});
        e.out->writer_done = true;
      }
      break;
    case Kind::PipeRead:
      e.in->reader_closed = true;
      e.in->buffer.clear();
      break;
    case Kind::Datagram: udp_bound_.erase({e.bound_host, e.port}); break;
    case Kind::Listener:
      listeners_.erase({e.host, e.port});
      // Connections never accepted are reset.
      for (int sfd : e.backlog) {
        if (Endpoint* s = find(sfd)) {
          reset_connection(*s);
          endpoints_.erase(sfd);
        }
      }
      break;
  }
  // `reader` and `writer` are released last: that may destroy a stream.
}

std::pair<int, int> FakeSelector::socketpair() {
  auto ab = std::make_shared<Channel>();
  auto ba = std::make_shared<Channel>();
  ab->from = ab->to = ba->from = ba->to = options_.default_host;
  ab->reverse = ba;
  ba->reverse = ab;
  Endpoint a;
  a.kind = Kind::Stream;
  a.host = a.remote_host = options_.default_host;
  a.in = ba;
  a.out = ab;
  Endpoint b = a;
  b.in = ab;
  b.out = ba;
  const int fa = next_fd_++;
  const int fb = next_fd_++;
  endpoints_.emplace(fa, std::move(a));
  endpoints_.emplace(fb, std::move(b));
  return {fa, fb};
}

std::pair<int, int> FakeSelector::pipe() {
  auto ch = std::make_shared<Channel>();
  ch->from = ch->to = options_.default_host;
  Endpoint r;
  r.kind = Kind::PipeRead;
  r.host = options_.default_host;
  r.in = ch;
  Endpoint w;
  w.kind = Kind::PipeWrite;
  w.host = options_.default_host;
  w.out = ch;
  const int fr = next_fd_++;
  const int fw = next_fd_++;
  endpoints_.emplace(fr, std::move(r));
  endpoints_.emplace(fw, std::move(w));
  return {fr, fw};
}

std::string FakeSelector::peer_name(int fd) {
  const Endpoint* e = find(fd);
  if (e == nullptr || (e->kind != Kind::Stream && !(e->kind == Kind::Datagram && e->connected))) {
    return fmt::format("fd {}", fd);
  }
  return fmt::format("{}:{}", e->remote_host, e->remote_port);
}

std::string FakeSelector::local_name(int fd) {
  const Endpoint* e = find(fd);
  if (e == nullptr) return {};
  if (e->kind == Kind::Datagram) return fmt::format("{}:{}", e->bound_host, e->port);
  return fmt::format("{}:{}", e->host, e->port);
}

// ---- datagrams ------------------------------------------------------------------------------

int FakeSelector::udp_open(const std::string& host, int port) {
  (void)now();  // must be attached
  if (port < 0 || port > 65535) return -EINVAL;
  Endpoint e;
  e.kind = Kind::Datagram;
  // The bound name; a socket bound to any address sends from the default host.
  e.bound_host = host.empty() ? options_.default_host : normalize(host);
  e.host = e.bound_host == "0.0.0.0" ? options_.default_host : e.bound_host;
  if (port == 0) {
    auto [pit, inserted] = next_port_.try_emplace(e.host, kFirstPort);
    while (udp_bound_.count({e.bound_host, pit->second}) != 0) ++pit->second;
    port = pit->second++;
  } else if (udp_bound_.count({e.bound_host, port}) != 0) {
    return -EADDRINUSE;
  }
  e.port = port;
  const int fd = next_fd_++;
  udp_bound_.emplace(std::make_pair(e.bound_host, port), fd);
  endpoints_.emplace(fd, std::move(e));
  return fd;
}

int FakeSelector::udp_connect(int fd, const std::string& host, int port) {
  Endpoint* e = find(fd);
  if (e == nullptr) return -EBADF;
  if (e->kind != Kind::Datagram) return -EINVAL;
  if (host.empty() || port <= 0 || port > 65535) return -EINVAL;
  e->remote_host = normalize(host);
  e->remote_port = port;
  e->connected = true;
  return 0;
}

std::ptrdiff_t FakeSelector::sendto(int fd, const char* data, std::size_t size, const std::string& host, int port) {
  Endpoint* e = find(fd);
  if (e == nullptr) return -EBADF;
  if (e->kind != Kind::Datagram) return -ENOTSOCK;
  if (e->connected && e->dgram_error != 0) return -std::exchange(e->dgram_error, 0);
  std::string to_host;
  int to_port = 0;
  if (host.empty()) {
    if (!e->connected) return -EDESTADDRREQ;
    to_host = e->remote_host;
    to_port = e->remote_port;
  } else {
    if (port <= 0 || port > 65535) return -EINVAL;
    to_host = normalize(host);
    to_port = port;
  }
  if (size > kMaxDatagram) return -EMSGSIZE;
  if (e->in_flight >= options_.socket_buffer) return -EAGAIN;
  ++stats_.datagrams_sent;
  int copies = 1;
  const FaultOptions& f = options_.faults;
  if ((f.datagram_loss || f.datagram_duplication) && fault_fires()) {
    enum Fault { kLoss, kDuplicate };
    std::vector<Fault> kinds;
    if (f.datagram_loss) kinds.push_back(kLoss);
    if (f.datagram_duplication) kinds.push_back(kDuplicate);
    if (kinds[choose(kinds.size())] == kLoss) {
      ++stats_.datagrams_lost;
      copies = 0;
    } else {
      ++stats_.datagrams_duplicated;
      copies = 2;
    }
  }
  const std::uint64_t seq = ++e->sent_seq;
  for (int i = 0; i < copies; ++i) {
    Datagram d{fd, e->host, e->port, to_host, to_port, std::string(data, size), seq};
    Duration at = now() + latency();
    if (!options_.datagram_reorder && at < e->last_dgram_arrival) at = e->last_dgram_arrival;
    if (at > e->last_dgram_arrival) e->last_dgram_arrival = at;
    e->in_flight += size;
    schedule(at, [this, d = std::move(d)]() mutable { arrive_datagram(std::move(d)); });
  }
  return static_cast<std::ptrdiff_t>(size);
}

void FakeSelector::arrive_datagram(Datagram d) {
  if (Endpoint* src = find(d.src_fd); src != nullptr && src->kind == Kind::Datagram) {
    src->in_flight -= std::min(src->in_flight, d.bytes.size());
  }
  if (d.from_host != d.to_host) {
    auto it = partitions_.find(host_pair(d.from_host, d.to_host));
    if (it != partitions_.end()) {
      if (it->second.mode == PartitionMode::Hold) {
        held_datagrams_.push_back(std::move(d));
      } else {
        ++stats_.datagrams_dropped;
      }
      return;
    }
  }
  land_datagram(std::move(d));
}

void FakeSelector::land_datagram(Datagram d) {
  auto it = udp_bound_.find({d.to_host, d.to_port});
  if (it == udp_bound_.end()) it = udp_bound_.find({"0.0.0.0", d.to_port});
  Endpoint* dst = it == udp_bound_.end() ? nullptr : find(it->second);
  Endpoint* src = find(d.src_fd);
  if (src != nullptr && src->kind != Kind::Datagram) src = nullptr;
  if (dst == nullptr) {
    // ICMP port unreachable: a sender connected to that address hears of it.
    ++stats_.datagrams_dropped;
    if (src != nullptr && src->connected && src->remote_host == d.to_host && src->remote_port == d.to_port) {
      src->dgram_error = ECONNREFUSED;
    }
    return;
  }
  if (dst->connected && (dst->remote_host != d.from_host || dst->remote_port != d.from_port)) {
    ++stats_.datagrams_dropped;  // a connected socket takes its peer's datagrams only
    return;
  }
  if (dst->inbox_bytes + d.bytes.size() > options_.socket_buffer) {
    ++stats_.datagrams_dropped;  // a full receive queue
    return;
  }
  if (src != nullptr) {
    if (d.seq < src->max_arrived_seq) ++stats_.datagrams_reordered;
    src->max_arrived_seq = std::max(src->max_arrived_seq, d.seq);
  }
  dst->inbox_bytes += d.bytes.size();
  dst->inbox.push_back(std::move(d));
}

std::ptrdiff_t FakeSelector::recvfrom(int fd, char* buffer, std::size_t size, Address* from) {
  Endpoint* e = find(fd);
  if (e == nullptr) return -EBADF;
  if (e->kind != Kind::Datagram) return -ENOTSOCK;
  if (e->dgram_error != 0) return -std::exchange(e->dgram_error, 0);
  if (e->inbox.empty()) return -EAGAIN;
  Datagram d = std::move(e->inbox.front());
  e->inbox.pop_front();
  e->inbox_bytes -= d.bytes.size();
  const std::size_t m = std::min(size, d.bytes.size());
  if (m > 0) std::memcpy(buffer, d.bytes.data(), m);
  if (from != nullptr) {
    from->host = d.from_host;
    from->port = d.from_port;
  }
  return static_cast<std::ptrdiff_t>(m);
}

// ---- the network ----------------------------------------------------------------------------

void FakeSelector::partition(const std::string& a, const std::string& b, PartitionMode mode,
                             std::optional<Duration> heal_after) {
  const std::string ha = normalize(a);
  const std::string hb = normalize(b);
  if (ha == hb) throw Error(fmt::format("FakeSelector::partition: '{}' and '{}' are the same host", a, b));
  auto key = host_pair(ha, hb);
  auto it = partitions_.find(key);
  if (it != partitions_.end() && it->second.heal_event != 0) cancel_event(it->second.heal_event);
  Partition p{mode, 0};
  if (heal_after) p.heal_event = schedule(now() + *heal_after, [this, key] { heal(key.first, key.second); });
  partitions_[key] = p;
}

void FakeSelector::heal(const std::string& a, const std::string& b) {
  auto key = host_pair(normalize(a), normalize(b));
  auto it = partitions_.find(key);
  if (it == partitions_.end()) return;
  if (it->second.heal_event != 0) cancel_event(it->second.heal_event);
  partitions_.erase(it);
  // Held traffic between the two hosts goes on, in order.
  std::vector<std::shared_ptr<Channel>> still_held;
  for (auto& ch : held_channels_) {
    if (host_pair(ch->from, ch->to) != key) {
      still_held.push_back(ch);
      continue;
    }
    while (!ch->held.empty()) {
      Segment seg = std::move(ch->held.front());
      ch->held.pop_front();
      ch->queued -= seg.bytes.size();
      deliver(*ch, std::move(seg));
    }
  }
  held_channels_ = std::move(still_held);
  std::vector<Datagram> datagrams;
  datagrams.swap(held_datagrams_);
  for (Datagram& d : datagrams) {
    if (host_pair(d.from_host, d.to_host) == key) {
      land_datagram(std::move(d));
    } else {
      held_datagrams_.push_back(std::move(d));
    }
  }
  std::vector<int> connects;
  connects.swap(held_connects_);
  for (int fd : connects) complete_connect(fd);  // re-held if still partitioned
}

bool FakeSelector::partitioned(const std::string& a, const std::string& b) const {
  return partitions_.count(host_pair(normalize(a), normalize(b))) != 0;
}

std::vector<std::string> FakeSelector::open_endpoints() const {
  std::vector<std::string> out;
  for (const auto& [fd, e] : endpoints_) {
    switch (e.kind) {
      case Kind::Stream:
        out.push_back(fmt::format("fd {}: stream {}:{} -> {}:{}{}", fd, e.host, e.port, e.remote_host, e.remote_port,
                                  e.status == -EINPROGRESS ? " (connecting)" : ""));
        break;
      case Kind::PipeRead: out.push_back(fmt::format("fd {}: pipe read end", fd)); break;
      case Kind::PipeWrite: out.push_back(fmt::format("fd {}: pipe write end", fd)); break;
      case Kind::Listener: out.push_back(fmt::format("fd {}: listener on {}:{}", fd, e.host, e.port)); break;
      case Kind::Datagram:
        out.push_back(e.connected ? fmt::format("fd {}: datagram {}:{} -> {}:{}", fd, e.bound_host, e.port,
                                                e.remote_host, e.remote_port)
                                  : fmt::format("fd {}: datagram {}:{}", fd, e.bound_host, e.port));
        break;
    }
  }
  return out;
}

}  // namespace simloop::fakes
