// The whole of simloop in one include.
#pragma once

#include <simloop/coro.hpp>
#include <simloop/errors.hpp>
#include <simloop/event_loop.hpp>
#include <simloop/future.hpp>
#include <simloop/sim/sim_loop.hpp>
#include <simloop/sleep.hpp>
#include <simloop/task.hpp>
