# Unit tests of rotation/: lifecycle state machine, backoff, deadlines, state file, store.
kcd_add_test(rotation_lifecycle_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/../unit/rotation_lifecycle_test.cpp
             LIBS kcd_rotation)
