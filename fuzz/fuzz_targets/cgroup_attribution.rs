//! cgroup path attribution: `/proc/PID/cgroup` parsing, the preferred line, the container/pod
//! attribution of any path, pod log directory names and conmon/shim command lines never panic;
//! a container id found is 64 lowercase hex digits and appears in the path; a pod's cgroup is a
//! prefix of the path.
#![no_main]
use libfuzzer_sys::fuzz_target;
use procmodel::cgroup;

fuzz_target!(|data: &[u8]| {
    let lines = cgroup::parse_cgroup_file(data);
    if let Some(l) = cgroup::preferred_line(&lines) {
        assert!(lines.iter().any(|x| std::ptr::eq(x, l)));
    }
    let text = String::from_utf8_lossy(data);
    for path in std::iter::once(text.as_ref()).chain(lines.iter().map(|l| l.path.as_str())) {
        let a = cgroup::attribute(path);
        if let Some(id) = &a.container_id {
            assert!(path.contains(id.as_str()), "{id} not in {path:?}");
        }
        if let Some(pod) = cgroup::pod_cgroup(path) {
            let p = path.strip_suffix(" (deleted)").unwrap_or(path);
            let norm: String = p.split('/').filter(|c| !c.is_empty()).map(|c| format!("/{c}")).collect();
            assert!(norm.starts_with(&pod), "{pod:?} not a prefix of {path:?}");
        }
    }
    let _ = cgroup::parse_pod_log_dir(&text);
    let args: Vec<Vec<u8>> = data.split(|&c| c == 0).map(|a| a.to_vec()).collect();
    let _ = cgroup::conmon_pod_from_args(&args);
    let _ = cgroup::shim_sandbox_from_args(&args);
});
