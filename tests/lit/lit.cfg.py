# lit configuration for nncc's regression tests.  Each test is a .nn file
# whose RUN lines call %nncc and check the output with FileCheck; the
# passes' tests (passes/<pass>/) are .ir files, read with -x ir.
import os
import shutil
import lit.formats

config.name = "nncc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".nn", ".test", ".ir"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.nncc_obj_root, "tests", "lit")

config.environment["PATH"] = os.pathsep.join(
    [config.nncc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ["PATH"])])

# Graphviz (Debian's graphviz) renders --emit=dot in the tests that need it.
if shutil.which("dot"):
    config.available_features.add("graphviz")

# Every test runs the verifier after every pass.
config.substitutions.append(("%nncc", os.path.join(config.nncc_tools_dir, "nncc") + " --verify-each"))
config.substitutions.append(("%models", os.path.join(config.nncc_src_root, "models")))
