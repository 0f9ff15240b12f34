{
  description = "kiln: Nix-style reproducible release builds into a content-addressed store";

  # nixos-25.11 ships rustc 1.91; Cargo.toml's rust-version is 1.89.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});
      cargoToml = builtins.fromTOML (builtins.readFile ./Cargo.toml);
    in
    {
      packages = forAllSystems (system: pkgs: {
        default = pkgs.rustPlatform.buildRustPackage {
          pname = cargoToml.package.name;
          version = cargoToml.package.version;
          # Only what cargo reads to build the binary: never store/, dist/ or target/.
          src = pkgs.lib.fileset.toSource {
            root = ./.;
            fileset = pkgs.lib.fileset.unions [
              ./Cargo.toml
              ./Cargo.lock
              ./src
              ./README.md
              ./LICENSE
            ];
          };
          cargoLock.lockFile = ./Cargo.lock;
          # The test suite compares kiln against Nix, bubblewrap, skopeo and
          # friends and needs a writable /nix/store: run it with scripts/test.sh.
          doCheck = false;
          meta = {
            description = cargoToml.package.description;
            license = pkgs.lib.licenses.mit;
            mainProgram = "kiln";
          };
        };
      });

      devShells = forAllSystems (system: pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [
            cargo
            rustc
            clippy
            rustfmt
            git
            nix
            skopeo
            umoci
            bubblewrap
            python3
            nodejs
            zstd
            nginx
          ];
        };
      });

      apps = forAllSystems (system: pkgs: {
        default = {
          type = "app";
          program = "${self.packages.${system}.default}/bin/kiln";
        };
      });
    };
}
