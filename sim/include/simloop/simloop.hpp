// The whole of simloop in one include (link simloop::simloop). The gtest
// and rapidcheck glue headers are not included: they need those libraries.
#pragma once

#include <simloop/async_with.hpp>
#include <simloop/awaitables.hpp>
#include <simloop/coro.hpp>
#include <simloop/datagrams.hpp>
#include <simloop/errors.hpp>
#include <simloop/event_loop.hpp>
#include <simloop/fakes/fakes.hpp>
#include <simloop/future.hpp>
#include <simloop/gather.hpp>
#include <simloop/locks.hpp>
#include <simloop/primitive_errors.hpp>
#include <simloop/queues.hpp>
#include <simloop/real_loop.hpp>
#include <simloop/replay/explore.hpp>
#include <simloop/replay/format.hpp>
#include <simloop/replay/minimize.hpp>
#include <simloop/replay/recorder.hpp>
#include <simloop/replay/render.hpp>
#include <simloop/replay/session.hpp>
#include <simloop/shield.hpp>
#include <simloop/sim/bounded.hpp>
#include <simloop/sim/choices.hpp>
#include <simloop/sim/random.hpp>
#include <simloop/sim/runner.hpp>
#include <simloop/sim/sim_loop.hpp>
#include <simloop/sim/strategy.hpp>
#include <simloop/sleep.hpp>
#include <simloop/sockets.hpp>
#include <simloop/streams.hpp>
#include <simloop/task.hpp>
#include <simloop/task_group.hpp>
#include <simloop/timeouts.hpp>
#include <simloop/version.hpp>
#include <simloop/wait.hpp>
