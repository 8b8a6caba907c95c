// placeholder while being written
#include <gtest/gtest.h>
