# Read by cpack for each generator: the .deb gets the unit under /lib and the Debian
# changelog, the .rpm the unit under /usr/lib.
if(CPACK_GENERATOR STREQUAL "DEB")
  set(CPACK_COMPONENTS_ALL main deb)
elseif(CPACK_GENERATOR STREQUAL "RPM")
  set(CPACK_COMPONENTS_ALL main rpm)
endif()
