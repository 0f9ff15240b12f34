//! nginx on a free port of 127.0.0.1 with its DAV module, serving a
//! temporary directory: the HTTP binary cache of the cache tests.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;

use super::{cmd, require_tool};

/// nginx serving (and accepting PUTs into) a temporary directory on a free
/// port of 127.0.0.1; stopped on drop.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    pub port: u16,
    pub root: PathBuf,
    _dir: tempfile::TempDir,
}

impl Nginx {
    pub fn start() -> Option<Nginx> {
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).is_file());
        let Some(nginx) = nginx else {
            require_tool("nginx");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.path().display();
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  \
             scgi_temp_path {d}/scgi;\n  client_max_body_size 0;\n  \
             server {{\n    listen 127.0.0.1:{port};\n    root {root};\n    \
             location / {{\n      dav_methods PUT;\n      create_full_put_path on;\n      \
             dav_access user:rw group:r all:r;\n    }}\n  }}\n}}\n",
            root = root.display()
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut child = cmd(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start nginx");
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(Nginx {
                    child,
                    port,
                    root,
                    _dir: dir,
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "nginx did not start: {}",
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        );
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
