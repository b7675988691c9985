cg_fuzz(stix_ingest SOURCES ${CMAKE_CURRENT_LIST_DIR}/stix_ingest.cc DEPS cg_stix)
