# Two commands do all the set-up on a fresh machine:
#   make demo   - run the main job on the built-in default (writes ./cxr-miliary-demo/)
#   make test   - install whatever is missing and run the whole test suite (what CI runs)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo clean test-tools default-model lung-model lung-refiner lung-gpu rehearsal screenshots region-pilot

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Some tests use system tools from Debian: the HTML report is loaded in a real browser
# (chromium), DICOM outputs are validated with dciodvfy (dicom3tools), and the DICOM node
# is spoken to by DCMTK's echoscu/storescu (dcmtk) and by a real PACS on both sides
# (orthanc, orthanc-dicomweb). Installed here when we can (root with
# apt); otherwise those checks are skipped with a note.
test-tools:
	@{ command -v chromium >/dev/null 2>&1 && command -v dciodvfy >/dev/null 2>&1 && command -v storescu >/dev/null 2>&1 && [ -x /usr/sbin/Orthanc ] && [ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ]; } || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium dicom3tools dcmtk orthanc orthanc-dicomweb >/dev/null; } || \
	  echo "note: chromium/dicom3tools/dcmtk/orthanc not installed; the browser, dciodvfy, DCMTK and Orthanc checks will be skipped"

# ruff (lint + format check) first: a style slip fails fast, before the 2-minute suite
test: $(STAMP) test-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 -q

# PadChest, NIH and local-CSV trees laid out as published, through manifest -> prepare -> fit
# (the shipped configs, CPU overrides only) -> export -> evaluate -> predict/score. Also in `test`.
rehearsal: $(STAMP)
	$(BIN)/python -m pytest -q -m rehearsal

lint: $(STAMP)

	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: $(STAMP)
	$(BIN)/cxr-miliary demo

# The default model in weights/default: trained on phantoms only, on CPU, in four stages
# (384 px global head; 384 px fine-tuning; 512 px grid head; the grid head fine-tuned on
# phantoms at the sizes real films come in, `--size mix`) - about 3 h on 2 cores.
DEFAULT_SET := .cache/phantoms-default
MIX_SET := .cache/phantoms-mix
default-model: $(STAMP)
	$(BIN)/python -c "from cxr_miliary.data import MiliaryDataModule, PhantomSpec; MiliaryDataModule('$(DEFAULT_SET)/train_manifest.csv', phantoms=PhantomSpec(n=2400, size=512, seed=1000, ratios=(0.8, 0.1, 0.1))).prepare_data()"
	$(BIN)/cxr-miliary prepare --manifest $(DEFAULT_SET)/train_manifest.csv --size 512 --out $(DEFAULT_SET)/cache
	$(BIN)/python train.py fit --config configs/phantom.yaml --config configs/default_model.yaml
	$(BIN)/python train.py fit --config configs/phantom.yaml --config configs/default_model.yaml --config configs/default_model_finetune.yaml \
	  --model.pretrained_file "$$(ls -d runs/default/lightning_logs/version_* | sort -V | tail -1)/bundle/model.safetensors"
	$(BIN)/python train.py fit --config configs/phantom.yaml --config configs/default_model.yaml --config configs/default_model_grid.yaml \
	  --model.pretrained_file "$$(ls -d runs/default_ft/lightning_logs/version_* | sort -V | tail -1)/bundle/model.safetensors"
	$(BIN)/python -c "from cxr_miliary.data import MiliaryDataModule, PhantomSpec; MiliaryDataModule('$(MIX_SET)/train_manifest.csv', phantoms=PhantomSpec(n=2400, size='mix', seed=1000, ratios=(0.8, 0.1, 0.1))).prepare_data()"
	$(BIN)/cxr-miliary prepare --manifest $(MIX_SET)/train_manifest.csv --size 512 --out $(MIX_SET)/cache512
	$(BIN)/python train.py fit --config configs/phantom.yaml --config configs/default_model.yaml --config configs/default_model_grid.yaml \
	  --config configs/default_model_mix.yaml --model.init_from "$$(ls -d runs/default_grid/lightning_logs/version_* | sort -V | tail -1)/bundle/model.safetensors"
	$(BIN)/python train.py fit --config configs/phantom.yaml --config configs/default_model.yaml --config configs/default_model_grid.yaml \
	  --config configs/default_model_mix.yaml --model.lr 1.5e-4 --trainer.max_epochs 4 --trainer.default_root_dir runs/default_mix_b \
	  --model.init_from "$$(ls -d runs/default_mix/lightning_logs/version_* | sort -V | tail -1)/bundle/model.safetensors"
	rm -rf weights/default && cp -r "$$(ls -d runs/default_mix_b/lightning_logs/version_* | sort -V | tail -1)/bundle" weights/default
	$(BIN)/cxr-miliary export --weights weights/default --onnx weights/default/model.onnx
	@echo "now measure it at every size on a seed never used: cxr-miliary bench sizes --n 100 --sizes 512,1024,2048,3000 --seed 8101"

# The lung-field model in weights/lungs: a small U-Net on 2,400 phantoms (generated on first
# use) with heavy augmentation - 3 min on one H200, a few hours on 2 CPU cores.
# The lung model on real films' conditions, in eleven fine-tunes (configs/lung_fields_conditions*.yaml,
# configs/lung_fields_negatives.yaml, configs/lung_fields_bilateral.yaml, configs/lung_fields_air.yaml,
# configs/lung_fields_pleura.yaml, configs/lung_fields_heart.yaml, configs/lung_fields_refit.yaml,
# configs/lung_fields_tight.yaml, configs/lung_fields_real.yaml and lung_fields_real3.yaml):
# 2,400 lung-mix phantoms at 512 px (made by the data module), then those plus 1,200 at
# 1,024 px and 184 at detector sizes (the shipped model's 184: the run that rendered them was cut
# short), then all of those plus white-out and AP portable films at 1,024 px and effusions and
# the mix at 2,048 px, then all of those plus white-out and AP films at 512 px, films with both
# lungs opacified and drawings with no lung in them (empty masks), then all of those plus more
# films with both lungs opacified, then films with both lungs opacified as rendered since
# December 2026 with a replay of the other conditions, then consolidation, effusion, white-out and
# haze as rendered since stop 44 (the air displaced up to the pleura) with those films, then all of
# that and enlarged hearts, then the same films longer at a higher learning rate, then all of
# that and films framed as real films are (the lung box 75-87 % of the film). Stages 1-5 saw the
# conditions' older renderings (blurred masks of the outline): run from scratch, they now train
# on the new ones. Stage 11 adds films whose lungs are outlines drawn on real films, and low lung
# volumes, in three runs with a replay of stage 10's films.
LUNGMIX = .cache/lung-conditions-mix
# Stage 3 (configs/lung_fields_conditions_hard.yaml): the conditions stage 2 was weakest on.
LUNGHARD = .cache/lung-conditions-hard
# Stage 4 (configs/lung_fields_negatives.yaml): white-out and AP films at 512 px, both lungs
# opacified, and drawings with no lung.
LUNGNEG = .cache/lung-negatives
# Stage 5 (configs/lung_fields_bilateral.yaml): more films with both lungs opacified, with the
# phantom command's pattern mix.
LUNGBIL = .cache/lung-bilateral
# Stage 6 (configs/lung_fields_air.yaml): both lungs opacified as the phantom renders them since
# December 2026 (the disease displaces the air up to the pleura and behind the heart), with a
# replay of the mix, white-out and AP films and drawings.
LUNGAIR = .cache/lung-air
# Stage 7 (configs/lung_fields_pleura.yaml): consolidation, effusion, white-out and haze as the
# phantom renders them since stop 44 (the air displaced up to the pleura), with stage 6's films
# with both lungs opacified. Note: stages 1-6 used the conditions' older renderings; rebuilt from
# scratch now, their mix sets render the new way (stage 6's bilateral sets are unchanged).
# Stage 8 (configs/lung_fields_heart.yaml): the same films and 500 with an enlarged heart.
# Stage 9 (configs/lung_fields_refit.yaml): the same films, 6 epochs at lr 4e-4.
LUNGPLEURA = .cache/lung-pleura
# Stage 10 (configs/lung_fields_tight.yaml): those and 1,500 films framed as real films are.
LUNGTIGHT = .cache/lung-tight
# Stage 11 (configs/lung_fields_real.yaml, then lung_fields_real3.yaml; December 2026): three runs on
# films whose lungs are outlines drawn on real films (`--condition real-lungs`: V7 Labs' masks in
# TorchXRayVision, the dev extra), films with low lung volumes, and a replay of stage 10's films.
# The first run's 1,800 real-outline films were rendered before the condition had its fluid mix
# (commit cf7cd8b); rendered now they have it.
LUNGLOW = .cache/lung-lowvol
LUNGREAL = .cache/lung-real
# $(call lung_set,dir,n,seed,size,condition[,more phantom options]): a phantom set (made once) and its lung manifest dir.csv.
lung_set = test -e $(1)/manifest.csv || $(BIN)/cxr-miliary phantom --n $(2) --seed $(3) --size $(4) --condition $(5) $(6) --workers 2 --out $(1); \
	$(BIN)/cxr-miliary manifest phantom-lungs --phantoms $(1)/manifest.csv --seed $(3) --out $(1).csv
# $(call concat_csv,out,in ...): one CSV of several with the same columns.
concat_csv = $(BIN)/python -c "import sys, pandas as pd; pd.concat(pd.read_csv(f) for f in sys.argv[2:]).to_csv(sys.argv[1], index=False)" $(1) $(2)
# $(call replay_csv,out,random_state,in ...): 2,000 train and 300 val rows drawn from stage 10's
# manifest, then the train and val rows of the sets given (their test rows are never trained on).
replay_csv = $(BIN)/python -c "import sys, pandas as pd; m = pd.read_csv('$(LUNGTIGHT)/manifest.csv'); r = int(sys.argv[2]); \
	new = pd.concat(pd.read_csv(f) for f in sys.argv[3:]); new = new[new.split != 'test']; \
	pd.concat([m[m.split == 'train'].sample(2000, random_state=r), m[m.split == 'val'].sample(300, random_state=r), new]).to_csv(sys.argv[1], index=False)" $(1) $(2) $(3)
lung-model: $(STAMP)
	$(BIN)/python train.py lungs fit --config configs/lung_fields.yaml --config configs/lung_fields_conditions.yaml
	$(call lung_set,$(LUNGMIX)/s1024,1200,2200,1024,lung-mix)
	$(call lung_set,$(LUNGMIX)/det,184,2300,detector,lung-mix)
	$(call concat_csv,$(LUNGMIX)/manifest.csv,.cache/lung-conditions/manifest.csv $(LUNGMIX)/s1024.csv $(LUNGMIX)/det.csv)
	$(BIN)/python train.py lungs fit --config configs/lung_fields.yaml --config configs/lung_fields_conditions.yaml \
	  --config configs/lung_fields_conditions_sizes.yaml \
	  --model.init_from "$$(ls -d runs/lungs_conditions/lightning_logs/version_* | sort -V | tail -1)/lung_bundle"
	$(call lung_set,$(LUNGHARD)/whiteout,600,2400,1024,white-out)
	$(call lung_set,$(LUNGHARD)/ap,600,2500,1024,ap-portable)
	$(call lung_set,$(LUNGHARD)/effusion2048,200,2600,2048,effusion)
	$(call lung_set,$(LUNGHARD)/mix2048,300,2700,2048,lung-mix)
	$(call concat_csv,$(LUNGHARD)/manifest.csv,$(LUNGMIX)/manifest.csv $(LUNGHARD)/whiteout.csv $(LUNGHARD)/ap.csv $(LUNGHARD)/effusion2048.csv $(LUNGHARD)/mix2048.csv)
	$(BIN)/python train.py lungs fit --config configs/lung_fields.yaml --config configs/lung_fields_conditions.yaml \
	  --config configs/lung_fields_conditions_hard.yaml \
	  --model.init_from "$$(ls -d runs/lungs_conditions_sizes/lightning_logs/version_* | sort -V | tail -1)/lung_bundle"
	$(call lung_set,$(LUNGHARD)/whiteout512,600,2800,512,white-out)
	$(call lung_set,$(LUNGHARD)/ap512,600,2900,512,ap-portable)
	$(call lung_set,$(LUNGNEG)/bilateral512,600,3200,512,bilateral-opacities)
	$(call lung_set,$(LUNGNEG)/bilateral1024,400,3300,1024,bilateral-opacities)
	$(call lung_set,$(LUNGNEG)/bilateral2048,100,3400,2048,bilateral-opacities)
	$(BIN)/cxr-miliary manifest lung-negatives --n 600 --seed 3000 --size 512 --out $(LUNGNEG)/neg512.csv
	$(BIN)/cxr-miliary manifest lung-negatives --n 200 --seed 3100 --size 1024 --out $(LUNGNEG)/neg1024.csv
	$(call concat_csv,$(LUNGNEG)/manifest.csv,$(LUNGHARD)/manifest.csv $(LUNGHARD)/whiteout512.csv $(LUNGHARD)/ap512.csv \
	  $(LUNGNEG)/bilateral512.csv $(LUNGNEG)/bilateral1024.csv $(LUNGNEG)/bilateral2048.csv $(LUNGNEG)/neg512.csv $(LUNGNEG)/neg1024.csv)
	$(BIN)/python train.py lungs fit --config configs/lung_fields.yaml --config configs/lung_fields_conditions.yaml \
	  --config configs/lung_fields_negatives.yaml \
	  --model.init_from "$$(ls -d runs/lungs_conditions_hard/lightning_logs/version_* | sort -V | tail -1)/lung_bundle"
	$(call lung_set,$(LUNGBIL)/bilateral512,1000,3500,512,bilateral-opacities)
	$(call lung_set,$(LUNGBIL)/bilateral1024,300,3600,1024,bilateral-opacities)
	$(call concat_csv,$(LUNGBIL)/manifest.csv,$(LUNGNEG)/manifest.csv $(LUNGBIL)/bilateral512.csv $(LUNGBIL)/bilateral1024.csv)
	$(BIN)/python train.py lungs fit --config configs/lung_fields.yaml --config configs/lung_fields_conditions.yaml \
	  --config configs/lung_fields_bilateral.yaml \
	  --model.init_from "$$(ls -d runs/lungs_negatives/lightning_logs/version_* | sort -V | tail -1)/lung_bundle"
	$(call lung_set,$(LUNGAIR)/bilateral512,800,3700,512,bilateral-opacities)
	$(call lung_set,$(LUNGAIR)/bilateral1024,200,3800,1024,bilateral-opacities)
	$(call lung_set,$(LUNGAIR)/mix512,600,3900,512,lung-mix)
	$(call lung_set,$(LUNGAIR)/whiteout512,150,4000,512,white-out)
	$(call lung_set,$(LUNGAIR)/ap512,150,4100,512,ap-portable)
	$(call lung_set,$(LUNGAIR)/mix1024,150,4300,1024,lung-mix)
	$(call lung_set,$(LUNGAIR)/whiteout1024,300,4400,1024,white-out)
	$(call lung_set,$(LUNGAIR)/ap1024,300,4500,1024,ap-portable)
	$(call lung_set,$(LUNGAIR)/effusion512,300,4600,512,effusion)
	$(call lung_set,$(LUNGAIR)/mix2048,100,4700,2048,lung-mix)
	$(BIN)/cxr-miliary manifest lung-negatives --n 300 --seed 4200 --size 512 --out $(LUNGAIR)/neg512.csv
	$(call concat_csv,$(LUNGAIR)/manifest.csv,$(LUNGAIR)/bilateral512.csv $(LUNGAIR)/bilateral1024.csv $(LUNGAIR)/mix512.csv \
	  $(LUNGAIR)/whiteout512.csv $(LUNGAIR)/ap512.csv $(LUNGAIR)/mix1024.csv $(LUNGAIR)/neg512.csv \
	  $(LUNGAIR)/whiteout1024.csv $(LUNGAIR)/ap1024.csv $(LUNGAIR)/effusion512.csv $(LUNGAIR)/mix2048.csv)
	$(BIN)/python train.py lungs fit --config configs/lung_fields.yaml --config configs/lung_fields_conditions.yaml \
	  --config configs/lung_fields_air.yaml \
	  --model.init_from "$$(ls -d runs/lungs_bilateral/lightning_logs/version_* | sort -V | tail -1)/lung_bundle"
	$(call lung_set,$(LUNGPLEURA)/cons512,300,4800,512,consolidation)
	$(call lung_set,$(LUNGPLEURA)/effusion512,300,4900,512,effusion)
	$(call lung_set,$(LUNGPLEURA)/whiteout512,150,5000,512,white-out)
	$(call lung_set,$(LUNGPLEURA)/whiteout1024,300,5100,1024,white-out)
	$(call lung_set,$(LUNGPLEURA)/haze512,200,5200,512,haze)
	$(call lung_set,$(LUNGPLEURA)/ap512,150,5300,512,ap-portable)
	$(call lung_set,$(LUNGPLEURA)/ap1024,300,5400,1024,ap-portable)
	$(call lung_set,$(LUNGPLEURA)/mix512,600,5500,512,lung-mix)
	$(call lung_set,$(LUNGPLEURA)/mix1024,150,5600,1024,lung-mix)
	$(call lung_set,$(LUNGPLEURA)/mix2048,100,5700,2048,lung-mix)
	$(call lung_set,$(LUNGPLEURA)/bilateral1024,300,5800,1024,bilateral-opacities)
	$(call lung_set,$(LUNGPLEURA)/cons1024,200,5900,1024,consolidation)
	$(call lung_set,$(LUNGPLEURA)/effusion1024,200,6000,1024,effusion)
	$(BIN)/cxr-miliary manifest lung-negatives --n 300 --seed 6100 --size 512 --out $(LUNGPLEURA)/neg512.csv
	$(call concat_csv,$(LUNGPLEURA)/manifest.csv,$(LUNGAIR)/bilateral512.csv $(LUNGAIR)/bilateral1024.csv $(LUNGPLEURA)/bilateral1024.csv \
	  $(LUNGPLEURA)/cons512.csv $(LUNGPLEURA)/cons1024.csv $(LUNGPLEURA)/effusion512.csv $(LUNGPLEURA)/effusion1024.csv \
	  $(LUNGPLEURA)/whiteout512.csv $(LUNGPLEURA)/whiteout1024.csv $(LUNGPLEURA)/haze512.csv $(LUNGPLEURA)/ap512.csv \
	  $(LUNGPLEURA)/ap1024.csv $(LUNGPLEURA)/mix512.csv $(LUNGPLEURA)/mix1024.csv $(LUNGPLEURA)/mix2048.csv $(LUNGPLEURA)/neg512.csv)
	$(BIN)/python train.py lungs fit --config configs/lung_fields.yaml --config configs/lung_fields_conditions.yaml \
	  --config configs/lung_fields_pleura.yaml \
	  --model.init_from "$$(ls -d runs/lungs_air/lightning_logs/version_* | sort -V | tail -1)/lung_bundle"
	$(call lung_set,$(LUNGPLEURA)/heart512,300,6200,512,cardiomegaly)
	$(call lung_set,$(LUNGPLEURA)/heart1024,200,6300,1024,cardiomegaly)
	$(call concat_csv,$(LUNGPLEURA)/manifest_heart.csv,$(LUNGPLEURA)/manifest.csv $(LUNGPLEURA)/heart512.csv $(LUNGPLEURA)/heart1024.csv)
	$(BIN)/python train.py lungs fit --config configs/lung_fields.yaml --config configs/lung_fields_conditions.yaml \
	  --config configs/lung_fields_heart.yaml \
	  --model.init_from "$$(ls -d runs/lungs_pleura/lightning_logs/version_* | sort -V | tail -1)/lung_bundle"
	$(BIN)/python train.py lungs fit --config configs/lung_fields.yaml --config configs/lung_fields_conditions.yaml \
	  --config configs/lung_fields_heart.yaml --config configs/lung_fields_refit.yaml \
	  --model.init_from "$$(ls -d runs/lungs_heart/lightning_logs/version_* | sort -V | tail -1)/lung_bundle"
	$(call lung_set,$(LUNGTIGHT)/mix512,800,6400,512,lung-mix,--framing tight)
	$(call lung_set,$(LUNGTIGHT)/mix1024,400,6500,1024,lung-mix,--framing tight)
	$(call lung_set,$(LUNGTIGHT)/bilateral512,300,6600,512,bilateral-opacities,--framing tight)
	$(call concat_csv,$(LUNGTIGHT)/manifest.csv,$(LUNGPLEURA)/manifest_heart.csv $(LUNGTIGHT)/mix512.csv $(LUNGTIGHT)/mix1024.csv $(LUNGTIGHT)/bilateral512.csv)
	$(BIN)/python train.py lungs fit --config configs/lung_fields.yaml --config configs/lung_fields_conditions.yaml \
	  --config configs/lung_fields_heart.yaml --config configs/lung_fields_tight.yaml \
	  --model.init_from "$$(ls -d runs/lungs_refit/lightning_logs/version_* | sort -V | tail -1)/lung_bundle"
	$(call lung_set,$(LUNGLOW)/lv512,400,6700,512,low-volume,--framing tight)
	$(call lung_set,$(LUNGLOW)/lv1024,200,6800,1024,low-volume)
	$(call lung_set,$(LUNGLOW)/lv512b,500,6900,512,low-volume,--framing tight)
	$(call lung_set,$(LUNGLOW)/lv1024b,300,6950,1024,low-volume)
	$(call lung_set,$(LUNGREAL)/r512t,1000,10100,512,real-lungs,--framing tight)
	$(call lung_set,$(LUNGREAL)/r1024,400,10200,1024,real-lungs)
	$(call lung_set,$(LUNGREAL)/r512,400,10300,512,real-lungs)
	$(call replay_csv,$(LUNGREAL)/manifest.csv,2,$(LUNGLOW)/lv512.csv $(LUNGLOW)/lv1024.csv $(LUNGLOW)/lv512b.csv $(LUNGLOW)/lv1024b.csv \
	  $(LUNGREAL)/r512t.csv $(LUNGREAL)/r1024.csv $(LUNGREAL)/r512.csv)
	$(BIN)/python train.py lungs fit --config configs/lung_fields.yaml --config configs/lung_fields_conditions.yaml \
	  --config configs/lung_fields_heart.yaml --config configs/lung_fields_tight.yaml --config configs/lung_fields_real.yaml \
	  --model.init_from "$$(ls -d runs/lungs_tight/lightning_logs/version_* | sort -V | tail -1)/lung_bundle"
	$(call lung_set,$(LUNGREAL)/s512t,1000,10400,512,real-lungs,--framing tight)
	$(call lung_set,$(LUNGREAL)/s1024,300,10500,1024,real-lungs)
	$(call replay_csv,$(LUNGREAL)/manifest2.csv,3,$(LUNGLOW)/lv512.csv $(LUNGLOW)/lv1024.csv $(LUNGLOW)/lv512b.csv $(LUNGLOW)/lv1024b.csv \
	  $(LUNGREAL)/r512t.csv $(LUNGREAL)/r1024.csv $(LUNGREAL)/r512.csv $(LUNGREAL)/s512t.csv $(LUNGREAL)/s1024.csv)
	$(BIN)/python train.py lungs fit --config configs/lung_fields.yaml --config configs/lung_fields_conditions.yaml \
	  --config configs/lung_fields_heart.yaml --config configs/lung_fields_tight.yaml --config configs/lung_fields_real.yaml \
	  --data.manifest $(LUNGREAL)/manifest2.csv --trainer.max_epochs 3 --trainer.default_root_dir runs/lungs_real2 \
	  --model.init_from "$$(ls -d runs/lungs_real/lightning_logs/version_* | sort -V | tail -1)/lung_bundle"
	$(call lung_set,$(LUNGREAL)/t512t,1000,10600,512,real-lungs,--framing tight)
	$(call lung_set,$(LUNGREAL)/t1024,300,10700,1024,real-lungs)
	$(call replay_csv,$(LUNGREAL)/manifest3.csv,4,$(LUNGLOW)/lv512.csv $(LUNGLOW)/lv1024.csv $(LUNGLOW)/lv512b.csv $(LUNGLOW)/lv1024b.csv \
	  $(LUNGREAL)/r512t.csv $(LUNGREAL)/r1024.csv $(LUNGREAL)/r512.csv $(LUNGREAL)/s512t.csv $(LUNGREAL)/s1024.csv \
	  $(LUNGREAL)/t512t.csv $(LUNGREAL)/t1024.csv)
	$(BIN)/python train.py lungs fit --config configs/lung_fields.yaml --config configs/lung_fields_conditions.yaml \
	  --config configs/lung_fields_heart.yaml --config configs/lung_fields_tight.yaml --config configs/lung_fields_real.yaml \
	  --config configs/lung_fields_real3.yaml \
	  --model.init_from "$$(ls -d runs/lungs_real2/lightning_logs/version_* | sort -V | tail -1)/lung_bundle"
	rm -rf weights/lungs && cp -r "$$(ls -d runs/lungs_real3/lightning_logs/version_* | sort -V | tail -1)/lung_bundle" weights/lungs
	$(MAKE) lung-refiner
	$(BIN)/cxr-miliary bench lungs --conditions --real ../shared/reference/real/CR-MONO1-10-chest.dcm

# The lung bundle's shape refiner (December 2026, rounds 15-16): the network's read-out of 8,000
# phantoms of the conditions mix (four seeds, made once; about 12 minutes per 2,000 on one core),
# then 14 epochs of Lightning with augmentation on two CPU cores (about 40 minutes), written into
# weights/lungs (refiner.safetensors, refiner.onnx, card).
LUNGREFINE = .cache/lung-refiner
REFINESEEDS = 18111 18112 18121 18122
lung-refiner: $(STAMP)
	mkdir -p $(LUNGREFINE)
	for s in $(REFINESEEDS); do test -e $(LUNGREFINE)/d$$s.npz || $(BIN)/cxr-miliary train-refiner data --seed $$s --n 2000 --lungs weights/lungs --out $(LUNGREFINE)/d$$s.npz || exit 1; done
	$(BIN)/cxr-miliary train-refiner fit --data $(foreach s,$(REFINESEEDS),$(LUNGREFINE)/d$(s).npz) --lungs weights/lungs --epochs 14 --augment \
	  --description "the eleventh lung network's read-out of 8,000 phantoms (cxr-miliary train-refiner data, seeds 18111, 18112, 18121 and 18122), augmented"

# The lung network trained from the start on one GPU, every condition at once, in about ten
# minutes (docs/training.md: "The lung network on a GPU"); figures and the bundle in runs/lung-gpu-out.
lung-gpu: $(STAMP)
	PY=$(BIN)/python OUT=runs/lung-gpu-out bash scripts/lung_gpu.sh

# A pilot of the lung-region input (configs/default_model_region.yaml): three phantom sets in one
# manifest, read without a cache, 3 epochs from the shipped default and 4 more from that, then
# bench sizes on seed 8101.
REGION_SET = .cache/phantoms-region
# $(call region_set,size,n,seed): a training phantom set with its split manifest (made once).
region_set = test -e $(REGION_SET)/s$(1)/train_manifest.csv || $(BIN)/python -c "from cxr_miliary.data import PhantomSpec; \
	from cxr_miliary.data.datamodule import generate_phantom_manifest as g; \
	g('$(REGION_SET)/s$(1)/train_manifest.csv', PhantomSpec(n=$(2), size=$(1), seed=$(3), ratios=(0.8, 0.1, 0.1)))"
region-pilot: $(STAMP)
	$(call region_set,2048,900,1100)
	$(call region_set,1024,300,1101)
	$(call region_set,512,300,1102)
	$(BIN)/python -c "import pandas as pd; R='$(REGION_SET)'; pd.concat(pd.read_csv(f'{R}/s{s}/train_manifest.csv').assign(path=lambda d, s=s: f's{s}/' + d['path'].astype(str)) for s in (2048, 1024, 512)).to_csv(f'{R}/train_manifest.csv', index=False)"
	$(BIN)/python train.py fit --config configs/phantom.yaml --config configs/default_model.yaml --config configs/default_model_grid.yaml \
	  --config configs/default_model_region.yaml --model.init_from weights/default/model.safetensors
	$(BIN)/python train.py fit --config configs/phantom.yaml --config configs/default_model.yaml --config configs/default_model_grid.yaml \
	  --config configs/default_model_region.yaml --model.lr 1.5e-4 --trainer.max_epochs 4 --trainer.default_root_dir runs/default_region_b \
	  --model.init_from "$$(ls -d runs/default_region/lightning_logs/version_* | sort -V | tail -1)/bundle/model.safetensors"
	$(BIN)/cxr-miliary bench sizes --weights "$$(ls -d runs/default_region_b/lightning_logs/version_* | sort -V | tail -1)/bundle" \
	  --n 100 --sizes 512,1024,2048,3000 --seed 8101

screenshots: $(STAMP)  # docs/review.png and docs/status.png from real runs (needs chromium, dcmtk)
	bash docs/screenshots.sh

clean:

	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis cxr-miliary-demo
